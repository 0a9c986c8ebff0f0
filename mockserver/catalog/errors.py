"""The error catalog: DashScope's codes with their HTTP status and exact messages."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_KEYS = ("code", "message", "request_id")
DEFAULT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ErrorShape:
    """How one variant's body is written: its key order and content type (captures differ by route)."""

    keys: tuple[str, ...] = DEFAULT_KEYS
    content_type: str = DEFAULT_CONTENT_TYPE


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    message: str
    messages: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, ErrorShape] = field(default_factory=dict)  # per variant; others take the default shape

    def shape(self, variant: str | None = None) -> ErrorShape:
        return self.shapes.get(variant or "", _DEFAULT_SHAPE)

    def text(self, variant: str | None = None) -> str:
        """The message, or one of its named variants (``InvalidApiKey`` / ``missing``)."""
        if variant is None:
            return self.message
        return self.messages[variant]


_DEFAULT_SHAPE = ErrorShape()


class ErrorCatalog:
    """Looks codes up; unknown codes are a programming error, not a user error."""

    def __init__(self, specs: dict[str, ErrorSpec]) -> None:
        self._specs = specs

    @classmethod
    def from_data(cls, data: dict) -> "ErrorCatalog":
        specs = {
            code: ErrorSpec(
                code=code,
                status=int(entry["status"]),
                message=entry["message"],
                messages=dict(entry.get("messages") or {}),
                shapes={
                    variant: ErrorShape(tuple(shape.get("keys", DEFAULT_KEYS)), shape.get("content_type", DEFAULT_CONTENT_TYPE))
                    for variant, shape in (entry.get("shapes") or {}).items()
                },
            )
            for code, entry in data["errors"].items()
        }
        return cls(specs)

    def __getitem__(self, code: str) -> ErrorSpec:
        return self._specs[code]

    def __contains__(self, code: object) -> bool:
        return code in self._specs

    def __iter__(self):
        return iter(self._specs.values())
