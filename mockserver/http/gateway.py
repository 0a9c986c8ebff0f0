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
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = list(message.get("headers", []))
                headers += envoy_headers(emulator, started, arrived, request_id)
                message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["path"].startswith(API_PREFIX):
                try:
                    state["account"] = account_of(scope, emulator)
                except ApiError as error:
                    await error_response(emulator.catalog.errors, error, request_id, state)(scope, receive, send_with_headers)
                    return
                fault = state.get("fault")  # a synchronous error the edge's fault rules chose
                if fault is not None:
                    await fault_response(emulator.catalog.errors, fault, request_id, state)(scope, receive, send_with_headers)
                    return
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:  # the client left before its body was whole: nobody to answer, nothing broke
            log.debug("client left during its request: %s %s (request %s)", scope["method"], scope["path"], request_id)
        except Exception:
            unexpected(scope, request_id)
            if response_started:
                raise
            response = error_response(emulator.catalog.errors, ApiError("InternalError"), request_id, state)
            await response(scope, receive, send_with_headers)


def envoy_headers(emulator: Emulator, started: float, arrived: float, request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers Alibaba's envoy adds to every DashScope answer."""
    cost = str(int((time.perf_counter() - started) * 1000)).encode()
    now = emulator.clock.now()
    return [
        (b"req-cost-time", cost),
        (b"req-arrive-time", str(epoch_ms(arrived)).encode()),
        (b"resp-start-time", str(epoch_ms(now)).encode()),
        (b"x-envoy-upstream-service-time", cost),
        (b"server", b"istio-envoy"),
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
