"""Graceful overload: past ``max_in_flight`` requests in flight, DashScope's routes and result downloads answer at once.

Without it an overloaded emulator queues work until clients time out, and
answers nobody in time. With it, a request that finds ``max_in_flight``
others in flight is refused without being parsed, authenticated or routed:

- a DashScope route (``/api/``) gets DashScope's own answer for this case:
  429 ``Throttling``, "Requests throttling triggered." (what the real gateway
  sends), with a request id and the gateway's headers, gzipped when asked, as
  every DashScope answer;
- a result download (``GET``/``HEAD`` on a result bucket: a 1024x1024
  placeholder render is the dearest request there is) gets OSS's answer for too
  many requests at once: 503 ``ActiveRequestLimitExceeded`` "Max active
  request limit is exceeded." (OSS's documented code; its EC is our decision).

The control plane (``/__mock/``, health too) and the upload bucket are always
served. A refusal must cost far less than the answer it saves, or refusing
frees nothing: so under uvicorn's httptools protocol it is written to the
socket before any ASGI task exists (:mod:`mockserver.server.connections` calls
:meth:`Overload.wire`), from bytes rendered once but for the request id, the
times and the date. Refusals are counted in the metrics
(``dashscope_mock_overload_refusals``, and the request and 429 counters), not
journaled one by one: a flood of refusals would evict from the ring buffer
the requests that were served.

"In flight" is uvicorn's count of requests it has read and not answered yet
(:func:`mockserver.server.serving.watch` hands it over), which also sees the
requests still waiting for the event loop; in process, without a server, this
ASGI layer counts the requests inside the app itself and refuses the same way.
"""

from __future__ import annotations

import time
from typing import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..server.wire import http_bytes
from ..support.timefmt import http_date
from . import oss
from .compression import Compression
from .edge import RESULTS_PREFIXES, _classify
from .gateway import envoy_headers
from .responses import error_parts

API_PREFIX = "/api/"
_PLACEHOLDER = "request-id-placeholder"
Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]


class Overload:
    """The outermost ASGI layer: counts requests in flight and refuses DashScope's and the downloads past the limit."""

    def __init__(self, app: ASGIApp, emulator: Emulator, compression: Compression) -> None:
        self.app = app
        self.emulator = emulator
        self.compression = compression  # whether a client's refusal is gzipped, as every DashScope answer
        self.limit = emulator.settings.max_in_flight  # 0: never refuse
        self.inside = 0  # requests inside the app now
        self.pending: Callable[[], int] | None = None  # the server's count of requests read and not answered
        status, body, media_type = error_parts(emulator.catalog.errors, ApiError("Throttling"), _PLACEHOLDER)
        self._status, self._media = status, media_type.encode()
        self._body = body.split(_PLACEHOLDER.encode())  # the answer around its request id

    def in_flight(self) -> int:
        """Requests in flight now (the metrics' gauge)."""
        return self.pending() if self.pending is not None else self.inside

    def refusal(self, scope: Scope, others: int) -> Answer | None:
        """The answer to a request that finds ``others`` in flight, if it is refused (and counted); else None."""
        if not self.limit or others < self.limit:
            return None
        path, method = scope["path"], scope["method"]
        if path.startswith(API_PREFIX):
            route = _classify(method, path)[0]
            answer = self._throttling(scope)
        elif path.startswith(RESULTS_PREFIXES) and method in ("GET", "HEAD"):
            route, answer = "download", self._oss_busy(path)
        else:
            return None
        self.emulator.journal.refused(route, answer[0], "Throttling" if answer[0] == 429 else None)
        return answer

    def wire(self, scope: Scope, others: int, keep_alive: bool) -> tuple[bytes, bool] | None:
        """The whole HTTP/1.1 answer of a refused request, as uvicorn would write it (:func:`http_bytes`); None
        when it is served."""
        answer = self.refusal(scope, others)
        if answer is None:
            return None
        return http_bytes(*answer, keep_alive, head=scope["method"] == "HEAD")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            others = self.pending() - 1 if self.pending is not None else self.inside  # the server's count has this one
            answer = self.refusal(scope, others)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
                return
        self.inside += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inside -= 1

    def _throttling(self, scope: Scope) -> Answer:
        """429 ``Throttling`` with the gateway's headers, in the order the general path sends them."""
        emulator = self.emulator
        arrived, started = emulator.clock.now(), time.perf_counter()
        request_id = emulator.ids.request_id()
        body = request_id.encode().join(self._body)
        accept_encoding = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value.decode("latin-1")
                break
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", self._media),
                   *envoy_headers(emulator, started, arrived, request_id)]
        headers, body = self.compression.whole(scope["method"], accept_encoding, self._status, headers, body)
        return self._status, headers, body

    def _oss_busy(self, path: str) -> Answer:
        """OSS's 503 ``ActiveRequestLimitExceeded``, with the headers every OSS error of the buckets has."""
        status, headers, body = oss.error_parts(oss.ACTIVE_REQUESTS, path.lstrip("/").partition("/")[0])
        wire_headers = [(name.encode(), value.encode()) for name, value in headers.items()]
        date = http_date(self.emulator.clock.now()).encode()  # the gateway dates the buckets' answers on this clock
        wire_headers += [(b"content-type", b"application/xml"), (b"date", date)]
        return status, wire_headers, body
