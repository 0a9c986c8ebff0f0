"""How the Redis store lays records out: batches, a lane's field, and numbers and text as Redis holds them."""

from __future__ import annotations

import json

BATCH = 1000  # records per MGET or pipeline when a call reads or writes many


def lane_field(account: str, model: str) -> str:
    return json.dumps([account, model])


def number(value: float) -> str:
    """A float as text that Redis and Lua parse back to the same double (``repr`` round-trips)."""
    return repr(float(value))


def text_of(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
