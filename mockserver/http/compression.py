"""Response compression, as the real gateway does it: gzip when the client accepts it, ``vary`` always.

Every recorded exchange with DashScope sent ``Accept-Encoding: gzip`` and got
``content-encoding: gzip`` back (submits, queries, list, cancel, upload
policy), with ``vary`` on every answer. A client that mishandles gzip would
pass against an emulator that never compresses and fail for real, so this
layer compresses whatever the client accepts (``compression: false`` turns it
off; ``vary`` stays, as the real service sends it either way).

It is pure ASGI and touches only what it must:

- bodies that are not text (JSON, XML, ``text/*``) pass untouched: images are
  compressed already, and a ``206`` range or ``304`` must keep its byte
  offsets and validators;
- a compressed answer's ``ETag`` becomes weak (``W/"..."``): it no longer names
  the same bytes, and a client's ``If-None-Match`` with it still matches;
- a streamed body (``more_body``) is compressed chunk by chunk, never buffered
  whole; a single-message body gets its exact compressed ``content-length``;
- a path under one of the ``skip`` prefixes (the OSS buckets: OSS answers as
  OSS does) is passed through as it is.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The 2026 answers' value (older answers: ``vary: Accept-Encoding``), verbatim.
VARY = b"Origin,Access-Control-Request-Method,Access-Control-Request-Headers, Accept-Encoding"
_VARY = (b"vary", VARY)
_LEVEL = 1  # the cheapest level: bodies are small JSON, and the bytes decode the same at any level
_GZIP_WBITS = 31  # zlib's gzip container (a 10-byte header with mtime 0: the same input gives the same bytes)
_UNTOUCHED_STATUSES = frozenset({204, 206, 304})
HeaderList = list[tuple[bytes, bytes]]


class Compression:
    def __init__(self, app: ASGIApp, *, enabled: bool = True, skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self.enabled = enabled
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self.sender(scope, send))

    def sender(self, scope: Scope, send: Send) -> Send:
        """``send`` that compresses this request's answer as this layer does (the fast poll path uses it too)."""
        return _Responder(send, self.wants(scope["method"], Headers(scope=scope).get("accept-encoding"))).send

    def wants(self, method: str, accept_encoding: str | None) -> bool:
        """Whether this layer gzips the answer to such a request (else it only adds ``vary``)."""
        return self.enabled and method != "HEAD" and accepts_gzip(accept_encoding)

    def whole(self, method: str, accept_encoding: str | None, status: int, headers: HeaderList,
              body: bytes) -> tuple[HeaderList, bytes]:
        """A whole answer's headers (none of them ``vary``) and body as this layer sends them: for answers made
        without ASGI messages."""
        headers = [*headers, _VARY]
        if accept_encoding and self.wants(method, accept_encoding) and _compressible(status, headers):
            body = gzip(body)
            headers = _encoded(headers, len(body))
        return headers, body


class _Responder:
    """Holds a response's start until its first body message shows whether (and how) to compress."""

    def __init__(self, send: Send, wanted: bool) -> None:
        self._send = send
        self._wanted = wanted
        self._start: Message | None = None
        self._compressor: zlib._Compress | None = None  # set while a streamed body is being compressed

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            message = {**message, "headers": _varied(message.get("headers", []))}
            if not (self._wanted and _compressible(message["status"], message["headers"])):
                await self._send(message)
                return
            self._start = message
            return
        if kind != "http.response.body" or (self._start is None and self._compressor is None):
            await self._send(message)
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if self._start is not None:  # the first body message
            start, self._start = self._start, None
            if not more:
                packed = gzip(body)
                await self._send({**start, "headers": _encoded(start["headers"], len(packed))})
                await self._send({"type": "http.response.body", "body": packed})
                return
            compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
            self._compressor = compressor
            await self._send({**start, "headers": _encoded(start["headers"], None)})
        assert self._compressor is not None
        packed = self._compressor.compress(body)
        if not more:
            packed += self._compressor.flush()
            self._compressor = None
        await self._send({"type": "http.response.body", "body": packed, "more_body": more})


def gzip(body: bytes) -> bytes:
    """A whole body gzipped as this layer gzips one (the overload guard's refusals too)."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(body) + compressor.flush()


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip``/``x-gzip`` or ``*``, with q above 0)."""
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0


def _varied(headers: Iterable[tuple[bytes, bytes]]) -> HeaderList:
    """The headers with the gateway's ``vary`` (in place of any the app set)."""
    varied = [(name, value) for name, value in headers if name.lower() != b"vary"]
    varied.append(_VARY)
    return varied


def _compressible(status: int, headers: HeaderList) -> bool:
    if status < 200 or status in _UNTOUCHED_STATUSES:
        return False
    content_type = b""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-encoding":
            return False  # already encoded
        if lowered == b"content-type":
            content_type = value.lower()
    return content_type.startswith(b"text/") or b"json" in content_type or b"xml" in content_type


def _encoded(headers: HeaderList, length: int | None) -> HeaderList:
    """The gzip-encoded answer's headers: its length (None: streamed), a weak ETag."""
    encoded = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            continue
        if lowered == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        encoded.append((name, value))
    encoded.append((b"content-encoding", b"gzip"))
    if length is not None:
        encoded.append((b"content-length", str(length).encode()))
    return encoded
