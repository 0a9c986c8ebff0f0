"""What every DashScope route reads the same way: a JSON object body, and paging numbers.

Both answer the gateway's 400 ``InvalidParameter`` variants, so tasks and
fine-tune jobs refuse bad input with the same words.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from ..domain.errors import ApiError


MAX_DEPTH = 64  # arrays and objects inside each other; no real request comes near it
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # an integer orjson may turn into a float (it keeps 64 bits)


def json_value(body: bytes) -> Any:
    """The body as JSON, strictly UTF-8; ValueError when it is not, or nests deeper than ``MAX_DEPTH``
    (deeper documents would exhaust the recursion of the parser and of everything that walks them).

    What the standard library's parser accepts, and how it reads it, is the contract (``NaN``, lone
    surrogates, integers of any size are accepted). orjson parses the common body four times faster and
    agrees with it on everything it accepts but integers past 64 bits, so it reads a body first; a body it
    refuses, or one with a run of 19 digits, goes to the standard library.
    """
    value = _quick(body)
    if value is _REFUSED:
        try:
            value = json.loads(body.decode("utf-8"))  # UnicodeDecodeError is a ValueError
        except RecursionError:
            raise ValueError("JSON nested too deep") from None
    # Nesting deeper than MAX_DEPTH takes more opening brackets than that: most bodies are not walked at all.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise ValueError("JSON nested too deep")
    return value


_REFUSED = object()


def _quick(body: bytes) -> Any:
    """orjson's reading of ``body``, or ``_REFUSED`` when the standard library must read it."""
    if _LONG_DIGITS.search(body) is not None:
        return _REFUSED
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _REFUSED


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels; iterative, so any depth is safe to ask about."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, as the gateway reads it; else its 400 "body invalid"."""
    try:
        payload = json_value(body)
    except ValueError:
        raise ApiError("InvalidParameter", "body_not_json") from None
    if not isinstance(payload, dict):
        raise ApiError("InvalidParameter", "body_not_json")
    return payload


_MAX_PAGE_NUMBER = 2**63 - 1  # a signed 64-bit integer, as a Java service parses one (and SQLite holds one)


def page_number(value: str | None, default: int) -> int:
    """A ``page_no`` or ``page_size``: a positive integer, or ``default`` when absent; at most a 64-bit one."""
    if value is None or value == "":
        return default
    try:
        number = int(value) if value.isdigit() and len(value) <= 19 else 0
    except ValueError:  # "²" is a digit that int() refuses
        number = 0
    if not 1 <= number <= _MAX_PAGE_NUMBER:
        raise ApiError("InvalidParameter", "list_paging")
    return number
