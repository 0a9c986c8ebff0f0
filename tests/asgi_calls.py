"""Calling an ASGI app in process with one request, and reading its answer back: for the fast-path tests."""

from __future__ import annotations

import zlib
from typing import Any

Headers = list[tuple[bytes, bytes]]


async def exchange(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[int, Headers, bytes]:
    """``(status, headers, body)`` of ``app``'s answer to ``scope`` with ``body``, a gzipped body decompressed."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if (b"content-encoding", b"gzip") in start["headers"]:
        answer = zlib.decompress(answer, 31)
    return start["status"], start["headers"], answer


def masked(headers: Headers, names: set[bytes]) -> Headers:
    """The headers in order, with the values of ``names`` (the ones that differ per request) replaced by ``-``."""
    return [(name, b"-" if name in names else value) for name, value in headers]
