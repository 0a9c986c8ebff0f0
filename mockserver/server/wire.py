"""Answers written straight to the socket: a plain request read without the HTTP parser, and an answer's bytes.

Most of what a client sends under load is one small request per packet: a
poll, a download, a submit's few hundred bytes of JSON. uvicorn answers each
through httptools' callbacks, a request cycle, an asyncio task and the ASGI
``send`` messages; that machinery costs more than the emulator's own work for
a poll. So the connection (:mod:`.connections`), while the parser is between
requests, first offers what the socket gave to :func:`whole_request`, and a
whole request to the overload guard and then the app's wire answerer
(:class:`WireApp`), which answer synchronously with the whole HTTP/1.1
answer's bytes, made by :func:`http_bytes` exactly as uvicorn writes them;
anything they do not answer goes uvicorn's way, unchanged.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, Protocol

Headers = list[tuple[bytes, bytes]]
_NOT_PLAIN = (b"transfer-encoding", b"upgrade", b"expect")  # the parser's business
_METHODS = (b"GET", b"HEAD", b"POST")
# Header lines as the parser takes them: a token, a colon, a value of visible characters, spaces and tabs.
_HEADER_LINES = re.compile(rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*)*")
_STATUS_LINES = {status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus}


class WireApp(Protocol):
    """What the app answers at the socket (:meth:`mockserver.http.fastpath.FastPath.wire`)."""

    def wire(self, scope: dict[str, Any], body: bytes | None, keep_alive: bool) -> tuple[bytes, bool] | None:
        """:func:`http_bytes` of the answer to the request in ``scope`` (an ASGI scope) with ``body`` (None: not
        read yet), or None to let uvicorn serve it."""


def whole_request(data: bytes, base: dict[str, Any]) -> tuple[dict[str, Any], bytes, bool] | None:
    """``(ASGI scope, body, keep-alive)`` of a whole HTTP/1.1 ``GET``, ``HEAD`` or ``POST`` that ``data`` holds
    alone, its body (if any) framed by ``Content-Length``.

    ``base`` holds the scope's connection keys (server, client, scheme, root
    path). Anything else returns None and goes the parser's way: a chunked or
    unfinished body, a pipelined second request, a percent-escaped or
    non-ASCII path, ``Upgrade``/``Expect``, a header line the parser would
    refuse (which it then answers with its 400).
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    first = data.find(b"\r\n")
    request_line = data[:first].split(b" ")
    if len(request_line) != 3 or request_line[0] not in _METHODS or request_line[2] != b"HTTP/1.1":
        return None
    raw_path, _, query = request_line[1].partition(b"?")
    if not raw_path.startswith(b"/") or b"%" in raw_path or not raw_path.isascii():
        return None
    block = data[first:end]
    read = _BLOCKS.get(block, _UNREAD)
    if read is _UNREAD:
        read = _header_block(block)
        if len(block) <= _BLOCK_KEPT_BYTES:  # bounded, whatever headers clients make up
            if len(_BLOCKS) >= _BLOCKS_KEPT:
                _BLOCKS.clear()
            _BLOCKS[block] = read
    if read is None:
        return None
    headers, length, keep_alive = read
    if len(data) != end + 4 + length:
        return None
    root = base["root_path"]
    scope = {
        **base,
        "http_version": "1.1",
        "method": request_line[0].decode(),
        "path": root + raw_path.decode(),
        "raw_path": root.encode() + raw_path,
        "query_string": query,
        "headers": list(headers),  # the request's own list: the one read is kept for the next
    }
    return scope, data[end + 4 :], keep_alive


# A client sends the same header lines request after request (its host, key, content type, the length of a
# body it repeats): each block is read once. The key is the block's bytes, so an entry is exactly what reading
# them again would give.
_BLOCKS: dict[bytes, tuple[tuple[tuple[bytes, bytes], ...], int, bool] | None] = {}
_BLOCKS_KEPT = 256
_BLOCK_KEPT_BYTES = 2048  # a client's usual headers are a few hundred bytes: 256 blocks stay under 1 MiB
_UNREAD = object()


def _header_block(block: bytes) -> tuple[tuple[tuple[bytes, bytes], ...], int, bool] | None:
    """``(the ASGI header pairs, the body's length, keep-alive)`` of the header lines of a request (``block``: from
    the request line's ``CRLF`` to the blank line's), or None when the parser must read them."""
    if _HEADER_LINES.fullmatch(block) is None:
        return None
    headers = []
    keep_alive = True
    length = None
    for line in block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.lower(), value.strip()
        if name in _NOT_PLAIN:
            return None
        if name == b"content-length":
            if length is not None or not value.isdigit() or len(value) > 18:  # never whole in one read; int() refuses 4300 digits
                return None
            length = int(value)
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
        headers.append((name, value))
    return tuple(headers), length or 0, keep_alive


def http_bytes(status: int, headers: Headers, body: bytes, keep_alive: bool, head: bool = False) -> tuple[bytes, bool]:
    """``(the whole HTTP/1.1 answer, whether the connection stays open)``, as uvicorn writes an answer: no headers of
    its own, and ``connection: close`` when the request or the answer closes the connection."""
    lines = b"\r\n".join(map(b": ".join, headers))  # each pair's line, in C (every answer at the socket is made here)
    if b"connection: " in lines and _closes(headers):
        keep_alive = False  # the answer says so itself
    elif not keep_alive:
        lines = lines + b"\r\nconnection: close" if lines else b"connection: close"
    status_line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
    return b"".join((status_line, lines, b"\r\n\r\n" if lines else b"\r\n", b"" if head else body)), keep_alive


def _closes(headers: Headers) -> bool:
    """Whether the answer's own ``connection`` header closes the connection (as uvicorn reads it)."""
    return any(name == b"connection" and b"close" in [token.strip() for token in value.lower().split(b",")]
               for name, value in headers)
