"""Reading a body with a cap: refused as soon as it passes the limit, never buffered past it."""

from __future__ import annotations

from typing import AsyncIterable


class TooLarge(Exception):
    """The body (or the length it declared) passed the cap."""


async def read_capped(chunks: AsyncIterable[bytes], limit: int, declared: str | None = None) -> bytes:
    """All of ``chunks``; :class:`TooLarge` when a declared ``Content-Length`` or the bytes read pass ``limit``."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)
