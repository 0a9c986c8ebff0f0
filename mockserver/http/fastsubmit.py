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

A submit whose whole request came in one read is answered at the socket
(:meth:`Submits.wire`, :mod:`mockserver.server.wire`): the same steps again,
synchronously, with no ASGI messages, unless its answer has to wait (an input
image to download, the synchronous image route's wait for its images) or a
fault rule is armed (the ASGI path, which counts the request once, serves it).
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from . import dashscope
from .compression import Compression
from ..server.wire import http_bytes
from ..support.headers import RawHeaders
from .edge import Arrival, Edge, account_of, journal, payload_of
from .gateway import Answering, envoy_headers, unexpected
from .responses import error_response

_SUBMIT = re.compile(r"/api/v1/services/(?P<service>[^/]+)/(?P<group>[^/]+)/(?P<function>[^/]+)/?")  # the route's


_PARAMS: dict[str, dict[str, str]] = {}  # a path's parameters: clients submit to a few paths, many times
_PATHS_KEPT = 256


def submit_params(scope: Scope) -> dict[str, str] | None:
    """The path parameters of a submit (``POST`` to the route's path, no root path), else None. Read only: the
    same dict answers every submit to a path."""
    if scope["method"] != "POST" or scope.get("root_path"):
        return None
    path = scope["path"]
    params = _PARAMS.get(path)
    if params is None:
        match = _SUBMIT.fullmatch(path)
        if match is None:
            return None
        if len(_PARAMS) >= _PATHS_KEPT:  # bounded, whatever paths clients make up
            _PARAMS.clear()
        params = _PARAMS[path] = match.groupdict()
    return params


class Submits:
    """Serves submits in one pass; hands the ones a fault shapes to the edge."""

    def __init__(self, edge: Edge, emulator: Emulator, compression: Compression) -> None:
        self.edge = edge
        self.emulator = emulator
        self.compression = compression

    def wire(self, scope: Scope, body: bytes, params: dict[str, str], keep_alive: bool) -> tuple[bytes, bool] | None:
        """The whole answer's bytes (:func:`mockserver.server.wire.http_bytes`) of a submit that needs no waiting;
        None (nothing done) for one that does, for a body over the limit, with a fault rule armed, or for a
        submit a directive shapes."""
        emulator = self.emulator
        if emulator.faults.rules.armed or len(body) > emulator.settings.max_body_bytes:
            return None
        payload = payload_of(body)
        if self._waits(payload, params):
            return None
        # One instant for the edge's arrival and the gateway's (two layers apart on the ASGI path, none here).
        arrived, started = emulator.clock.now(), time.perf_counter()
        arrival = Arrival("submit", None, arrived, started)
        state = scope["state"] = {}  # the body and payload are handed to the emulator directly, not through it
        headers = RawHeaders(scope["headers"])
        self.edge.judge(scope, arrival, payload, headers)  # no rule armed: nothing counted (the ASGI path may judge anew)
        if arrival.effects is not None:
            return None
        request_id = state["request_id"] = emulator.ids.request_id()
        try:
            account = state["account"] = account_of(scope, emulator)
            draft = emulator.prepare(account, params["group"], params["function"], body, headers, params["service"], payload)
            looked = emulator.look_now(draft)
            if looked is None:
                raise RuntimeError("a submit answered at the socket needs a download")  # _waits rules that out
            response = dashscope.submitted(emulator, draft, looked, request_id, state)
        except ApiError as error:
            response = error_response(emulator.catalog.errors, error, request_id, state)
        except Exception:
            unexpected(scope, request_id)
            response = error_response(emulator.catalog.errors, ApiError("InternalError"), request_id, state)
        status = response.status_code
        sent = [*response.raw_headers, *envoy_headers(emulator, started, arrived, request_id)]
        sent, answer = self.compression.whole("POST", headers.get("accept-encoding"), status, sent, response.body)
        wired = http_bytes(status, sent, answer, keep_alive)
        journal(emulator, scope, arrival, status)
        return wired

    def _waits(self, payload: dict[str, Any] | None, params: dict[str, str]) -> bool:
        """Whether the answer to this submit waits for something (inputs to download, images to make): decided
        as the emulator will decide which model serves the route; a submit it refuses waits for nothing."""
        catalog = self.emulator.catalog
        name = payload.get("model") if payload is not None else None
        served = catalog.on_route(name, params["service"], params["group"], params["function"]) if type(name) is str else None
        if served is None:
            return False
        input_ = payload.get("input") if payload is not None else None
        return served.output.shape == "call" or (isinstance(input_, dict) and self.emulator.inputs.downloads(served, input_))

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

