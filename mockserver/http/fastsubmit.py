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

import re
import time

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from . import dashscope
from .compression import Compression
from .edge import Edge, account_of, journal
from .gateway import Answering
from .responses import error_response

_SUBMIT = re.compile(r"/api/v1/services/(?P<service>[^/]+)/(?P<group>[^/]+)/(?P<function>[^/]+)/?")  # the route's


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
        emulator = self.emulator
        state = scope["state"]
        request_id = state["request_id"] = emulator.ids.request_id()
        answering = Answering(emulator, self.compression.sender(scope, send), request_id, emulator.clock.now(), time.perf_counter())

        async def route() -> None:  # the route itself, as the gateway hands it on
            try:
                state["account"] = account_of(scope, emulator)
                scope["path_params"] = params
                response = await dashscope.submit(Request(scope, receive))
            except ApiError as error:
                response = error_response(emulator.catalog.errors, error, request_id, state)
            await response(scope, receive, answering.send)

        try:
            await answering.run(scope, receive, route)
        finally:
            journal(emulator, scope, arrival, answering.status)
