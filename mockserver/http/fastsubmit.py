"""Submits in one pass: ``POST /api/v1/services/{service}/{group}/{function}`` as plain ASGI.

Through the general path a submit crosses the edge (which reads the body to
match fault rules), the control-plane log, compression, Starlette's error
and exception middleware, the gateway, the router (every route's pattern
until one matches) and the route, each with its own ``send`` wrapper, and its
body is read twice, each time under a timer task. Here the same steps run
once, in the same order: authenticate, read the body (bounded), ask the fault
engine, draw the request id, refuse a bad key, then call the route itself
(:func:`.dashscope.submit`, the same handler on a ``Request`` over the body
already read) and send its answer with the gateway's headers, through the
same compression, and journal it.

A submit that a fault rule or directive shapes goes the general way with its
effects already chosen (:meth:`Edge.answer`), as a poll does. The two paths
answer byte for byte alike (``tests/test_fastsubmit.py``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from . import dashscope
from .compression import Compression
from .edge import Edge, account_of, forget_body, record
from .gateway import envoy_headers, unexpected
from .responses import error_response

_SUBMIT = re.compile(r"/api/v1/services/(?P<service>[^/]+)/(?P<group>[^/]+)/(?P<function>[^/]+)/?")  # the route's
log = logging.getLogger("mockserver")


def submit_params(scope: Scope) -> dict[str, str] | None:
    """The path parameters of a submit (``POST`` to the route's path, no root path), else None."""
    if scope["method"] != "POST" or scope.get("root_path"):
        return None
    match = _SUBMIT.fullmatch(scope["path"])
    return match.groupdict() if match is not None else None


class Submits:
    """Serves submits in one pass; hands the ones a fault shapes to the edge."""

    def __init__(self, edge: Edge, emulator: Emulator, compression: Compression) -> None:
        self.edge = edge
        self.emulator = emulator
        self.compression = compression

    async def serve(self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]) -> None:
        arrival, receive = await self.edge.arrive(scope, receive, "submit", None)
        if arrival.effects is not None:  # a fault shapes this answer: the general path serves it
            await self.edge.answer(scope, receive, send, arrival)
            return
        state = scope["state"]
        seen: dict[str, Any] = {"status": None}  # the answer's status, once it is sent
        try:
            await self._answer(scope, receive, send, params, seen)
        finally:
            status = seen["status"]
            forget_body(state)
            answered_id, answered_status = state.get("task", (None, None))
            record(self.emulator, time=arrival.time, account=arrival.account, method="POST", path=scope["path"],
                   route="submit", status=status, request_id=state.get("request_id"),
                   latency_ms=round((time.perf_counter() - arrival.started) * 1000, 3), task_id=answered_id,
                   task_status=answered_status, model=arrival.model,
                   code=state.get("code") if status is not None and status >= 400 else None)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, params: dict[str, str], seen: dict[str, Any]) -> None:
        """The gateway's part and the route's."""
        emulator = self.emulator
        state = scope["state"]
        request_id = emulator.ids.request_id()
        arrived, started = emulator.clock.now(), time.perf_counter()
        state["request_id"] = request_id
        compressed = self.compression.sender(scope, send)

        async def with_headers(message: Message) -> None:  # the gateway's headers on the answer
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  *envoy_headers(emulator, started, arrived, request_id)]}
            await compressed(message)

        try:
            try:
                state["account"] = account_of(scope, emulator)
                scope["path_params"] = params
                response = await dashscope.submit(Request(scope, receive))
            except ApiError as error:
                response = error_response(emulator.catalog.errors, error, request_id, state)
            await response(scope, receive, with_headers)
        except ClientDisconnect:  # the client left before its body was whole: nobody to answer, nothing broke
            log.debug("client left during its request: %s %s (request %s)", scope["method"], scope["path"], request_id)
        except Exception:
            unexpected(scope, request_id)
            if seen["status"] is not None:
                raise
            response = error_response(emulator.catalog.errors, ApiError("InternalError"), request_id, state)
            await response(scope, receive, with_headers)
