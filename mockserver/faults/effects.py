"""What a fault does, as data: shared by admin rules, the config file and in-band directives."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_TEN_YEARS = 10 * 365 * 86400.0

from ..catalog import ErrorCatalog
from ..support.suggest import did_you_mean

MAX_STALL_SECONDS = 300.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Failure(_Model):
    """A catalog code; its message is the catalog's (or a named variant, or given text)."""

    code: str
    variant: str | None = None
    message: str | None = None


class Partial(_Model):
    """``failed`` images of the task fail (the last ones); ``of``, if given, must be the task's n."""

    failed: int = Field(ge=1)
    of: int | None = Field(None, ge=1)
    codes: list[str] = Field(default_factory=lambda: ["DataInspectionFailed"], min_length=1)


class HttpError(Failure):
    """A synchronous error answer instead of the route's own; ``status`` overrides the catalog's."""

    status: int | None = Field(None, ge=400, le=599)
    retry_after: int | None = Field(None, ge=0)


class Network(_Model):
    """``reset``/``empty``: the request is dropped unprocessed; ``truncate`` cuts the body
    in half; ``stall`` holds the (processed) answer ``seconds`` of wall time."""

    kind: Literal["reset", "empty", "truncate", "stall"]
    seconds: float = Field(0.0, ge=0, le=MAX_STALL_SECONDS)


class Effects(_Model):
    # plan effects: they shape a task at submission
    fail: Failure | None = None
    partial: Partial | None = None
    # emulated seconds, at most ten years: the task's dates must stay dates
    pending: float | None = Field(None, ge=0, le=_TEN_YEARS, allow_inf_nan=False)  # before it can be scheduled
    running: float | None = Field(None, ge=0, le=_TEN_YEARS, allow_inf_nan=False)  # it runs
    stuck: bool = False  # runs until the task timeout gives InternalError.Timeout
    extra: dict[str, Any] = Field(default_factory=dict)  # added to the task's output
    # HTTP effects: they shape the answer to the request itself
    http: HttpError | None = None
    network: Network | None = None

    def has_plan(self) -> bool:
        return bool(self.fail or self.partial or self.pending is not None or self.running is not None
                    or self.stuck or self.extra)

    def has_http(self) -> bool:
        return self.http is not None or self.network is not None

    def merged(self, other: "Effects | None") -> "Effects":
        """These effects with ``other``'s set fields on top."""
        if other is None:
            return self
        return Effects.model_validate({**self.model_dump(exclude_defaults=True), **other.model_dump(exclude_defaults=True)})

    def check(self, errors: ErrorCatalog) -> None:
        """Raise ValueError for a code or variant the catalog does not have."""
        failures = [f for f in (self.fail, self.http) if f is not None]
        for failure in failures:
            _known(errors, failure.code, failure.variant)
        for code in self.partial.codes if self.partial else ():
            _known(errors, code, None)


def _known(errors: ErrorCatalog, code: str, variant: str | None) -> None:
    if code not in errors:
        hint = did_you_mean(code, (spec.code for spec in errors))
        raise ValueError(f"unknown error code {code!r}{hint} (`dashscope-mock errors` lists the catalog)")
    if variant is not None and variant not in errors[code].messages:
        raise ValueError(f"error code {code!r} has no message variant {variant!r}")
