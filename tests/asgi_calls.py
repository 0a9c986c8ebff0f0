"""Calling an ASGI app in process with one request, and reading its answer back: for the fast-path tests."""

from __future__ import annotations

import zlib
from http import HTTPStatus
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


def read_wire(answer: tuple[bytes, bool] | None) -> tuple[int, Headers, bytes]:
    """``(status, headers, body)`` of an answer made at the socket (``FastPath.wire``), as :func:`exchange` reads
    one: checked to be whole HTTP/1.1 that keeps the connection open, a gzipped body decompressed."""
    assert answer is not None and answer[1] is True  # answered, and the connection stays open
    head, _, body = answer[0].partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    status = int(status_line[9:12])
    assert status_line == b"HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase.encode())
    headers = [tuple(line.split(b": ", 1)) for line in lines]
    assert len(body) == int(dict(headers)[b"content-length"])
    if (b"content-encoding", b"gzip") in headers:
        body = zlib.decompress(body, 31)
    return status, headers, body
