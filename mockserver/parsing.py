"""What every DashScope route reads the same way: a JSON object body, and paging numbers.

Both answer the gateway's 400 ``InvalidParameter`` variants, so tasks and
fine-tune jobs refuse bad input with the same words.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; strictly UTF-8, as the gateway reads it."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError
        raise ApiError("InvalidParameter", "body_not_json") from None
    if not isinstance(payload, dict):
        raise ApiError("InvalidParameter", "body_not_json")
    return payload


def page_number(value: str | None, default: int) -> int:
    """A ``page_no`` or ``page_size``: a positive integer, or ``default`` when absent."""
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError("InvalidParameter", "list_paging")
    return int(value)
