"""The gateway in front of every route, as Alibaba's envoy is in front of DashScope.

It stamps each request with a request id and its arrival on the emulator's
clock, authenticates DashScope routes before any routing (a bad key on an
unknown path is still 401), adds the gateway's response headers, and turns
any unexpected exception into the catalog's 500 ``InternalError``: logged,
never a traceback on the wire.
"""

from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..support.timefmt import epoch_ms, http_date
from .edge import account_of, fault_response
from .responses import error_response

API_PREFIX = "/api/v1"
log = logging.getLogger("mockserver")


class Gateway:
    def __init__(self, app: ASGIApp, emulator: Emulator, passthrough: tuple[str, ...] = ()) -> None:
        self.app = app
        self.emulator = emulator
        self.passthrough = passthrough  # path prefixes that are not DashScope's (the OSS buckets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        request_id = emulator.ids.request_id()
        arrived = emulator.clock.now()
        started = time.perf_counter()  # a duration, not a date: the only non-emulator time read
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        if scope["path"].startswith(self.passthrough):
            await self.app(scope, receive, _dated(send, emulator))
            return
        answering = Answering(emulator, send, request_id, arrived, started)

        async def route() -> None:
            if scope["path"].startswith(API_PREFIX):
                try:
                    state["account"] = account_of(scope, emulator)
                except ApiError as error:
                    await error_response(emulator.catalog.errors, error, request_id, state)(scope, receive, answering.send)
                    return
                fault = state.get("fault")  # a synchronous error the edge's fault rules chose
                if fault is not None:
                    await fault_response(emulator.catalog.errors, fault, request_id, state)(scope, receive, answering.send)
                    return
            await self.app(scope, receive, answering.send)

        await answering.run(scope, receive, route)


class Answering:
    """One request's answer through the gateway: its headers added to the answer's start, and an unexpected
    exception turned into the catalog's 500 ``InternalError`` (logged, never a traceback on the wire)."""

    def __init__(self, emulator: Emulator, send: Send, request_id: str, arrived: float, started: float) -> None:
        self._emulator, self._send, self._request_id = emulator, send, request_id
        self._arrived, self._started = arrived, started
        self.status: int | None = None  # the answer's, once it started

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = [*message.get("headers", []), *envoy_headers(self._emulator, self._started, self._arrived, self._request_id)]
            message = {**message, "headers": headers}
        await self._send(message)

    async def run(self, scope: Scope, receive: Receive, route: Callable[[], Awaitable[None]]) -> None:
        """Answer through ``route``, as the gateway answers any request."""
        try:
            await route()
        except ClientDisconnect:  # the client left before its body was whole: nobody to answer, nothing broke
            log.debug("client left during its request: %s %s (request %s)", scope["method"], scope["path"], self._request_id)
        except Exception:
            unexpected(scope, self._request_id)
            if self.status is not None:
                raise
            state = scope.setdefault("state", {})
            response = error_response(self._emulator.catalog.errors, ApiError("InternalError"), self._request_id, state)
            await response(scope, receive, self.send)


_SERVER = (b"server", b"istio-envoy")


def envoy_headers(emulator: Emulator, started: float, arrived: float, request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers Alibaba's envoy adds to every DashScope answer (numbers written as bytes at once: ``b"%d"``
    gives what ``str(int(x)).encode()`` gives, in one step; every answer carries these)."""
    cost = b"%d" % ((time.perf_counter() - started) * 1000)
    now = emulator.clock.now()
    return [
        (b"req-cost-time", cost),
        (b"req-arrive-time", b"%d" % epoch_ms(arrived)),
        (b"resp-start-time", b"%d" % epoch_ms(now)),
        (b"x-envoy-upstream-service-time", cost),
        _SERVER,
        (b"date", http_date(now).encode()),  # on the emulator's clock, so it agrees with task times and URL expiry
        (b"x-request-id", request_id.encode()),  # on successes too since the 2026 captures
    ]


def unexpected(scope: Scope, request_id: str) -> None:
    """Log an exception that became a 500 ``InternalError`` (never a traceback on the wire)."""
    log.exception("unexpected error on %s %s (request %s)", scope["method"], scope["path"], request_id)


def _date(emulator: Emulator) -> tuple[bytes, bytes]:
    """The ``Date`` header on the emulator's clock, so it agrees with task times and URL expiry."""
    return b"date", http_date(emulator.clock.now()).encode()


def _dated(send: Send, emulator: Emulator) -> Send:
    async def send_dated(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), _date(emulator)]}
        await send(message)

    return send_dated
