"""DashScope's bodies, rendered in one place: compact JSON, real key order, exact errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..catalog import ErrorCatalog
from ..domain.errors import ApiError

JSON = "application/json"
JSON_UTF8 = "application/json;charset=UTF-8"  # what the task query (and its siblings) answer with


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once, not per call as json.dumps does
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"))


def dumps(payload: Any) -> bytes:
    """Compact, UTF-8, key order kept: the bytes the real gateway sends.

    Text that UTF-8 cannot carry (a lone surrogate a client sent as ``\\ud800``)
    falls back to ASCII escapes, which is still valid JSON. (orjson would save
    3 us a poll, but writes floats its own way: 0.00001 for 1e-05.)
    """
    try:
        return _COMPACT.encode(payload).encode("utf-8")
    except UnicodeEncodeError:
        return _COMPACT_ASCII.encode(payload).encode("ascii")


def json_response(payload: Any, status: int = 200, media_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, headers=headers, media_type=media_type)


def error_body(errors: ErrorCatalog, error: ApiError, request_id: str) -> tuple[int, dict[str, str]]:
    """``(status, {"code", "message", "request_id"})`` for a catalog error, keys in its variant's captured order."""
    spec = errors[error.code]
    message = error.message if error.message is not None else spec.text(error.variant)
    fields = {"code": spec.code, "message": message, "request_id": request_id}
    return spec.status, {key: fields[key] for key in spec.shape(error.variant).keys}


def error_parts(errors: ErrorCatalog, error: ApiError, request_id: str) -> tuple[int, bytes, str]:
    """``(status, body, content type)`` of a catalog error: what :func:`error_response` sends."""
    status, body = error_body(errors, error, request_id)
    return status, dumps(body), errors[error.code].shape(error.variant).content_type


def error_response(errors: ErrorCatalog, error: ApiError, request_id: str, state: dict[str, Any] | None = None) -> Response:
    """The catalog error's answer; its code goes into the request's ``state`` for the journal."""
    status, body, media_type = error_parts(errors, error, request_id)
    if state is not None:
        state["code"] = errors[error.code].code
    return Response(body, status_code=status, headers=error.headers or None, media_type=media_type)
