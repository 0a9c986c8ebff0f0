"""Graceful overload: past ``max_in_flight`` requests in flight, DashScope's routes answer 429 at once.

Without it an overloaded emulator queues work until clients time out, and
answers nobody in time. With it, a request that finds more than
``max_in_flight`` others in flight gets DashScope's own answer for this case
(429 ``Throttling``, "Requests throttling triggered.", what the real gateway
sends) without being parsed or routed, so clients back off and the requests
being served finish in time. The control plane (``/__mock/``, health too) and
the OSS buckets are always served.

"In flight" is uvicorn's count of requests it has read and not answered yet
(:func:`mockserver.server.serving.watch` hands it over), which also sees the requests
still waiting for the event loop; in process, without a server, the guard
counts the requests inside the app itself.
"""

from __future__ import annotations

import time
from typing import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from .compression import Compression
from .edge import _classify, record
from .gateway import envoy_headers
from .responses import error_parts

API_PREFIX = "/api/"


class Overload:
    """The outermost ASGI layer: counts requests in flight and refuses DashScope's past the limit."""

    def __init__(self, app: ASGIApp, emulator: Emulator, compression: Compression) -> None:
        self.app = app
        self.emulator = emulator
        self.compression = compression  # the refusal is compressed (and varies) as every DashScope answer
        self.limit = emulator.settings.max_in_flight  # 0: never refuse
        self.inside = 0  # requests inside the app now
        self.pending: Callable[[], int] | None = None  # the server's count of requests read and not answered

    def in_flight(self) -> int:
        """Requests in flight now (the metrics' gauge)."""
        return self.pending() if self.pending is not None else self.inside

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.limit and scope["path"].startswith(API_PREFIX):
            with_this = self.pending() if self.pending is not None else self.inside + 1  # the server's count has it
            if with_this > self.limit:
                await self._refuse(scope, send)
                return
        self.inside += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inside -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        emulator = self.emulator
        arrived, started = emulator.clock.now(), time.perf_counter()
        request_id = emulator.ids.request_id()
        status, body, media_type = error_parts(emulator.catalog.errors, ApiError("Throttling"), request_id)
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media_type.encode())]
        headers += envoy_headers(emulator, started, arrived, request_id)
        send = self.compression.sender(scope, send)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        route, task_id = _classify(scope["method"], scope["path"])
        record(emulator, time=arrived, account=None, method=scope["method"], path=scope["path"], route=route,
               status=status, request_id=request_id, latency_ms=round((time.perf_counter() - started) * 1000, 3),
               task_id=task_id, code=emulator.catalog.errors["Throttling"].code)
