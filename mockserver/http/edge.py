"""The outermost ASGI layer: the control plane's guard, HTTP faults and the request journal.

It sits outside Starlette's own error middleware so it holds the server's
``send``; with uvicorn that reaches the socket, which network faults need (a
connection reset is an RST, an empty reply a close with nothing sent). In
process (httpx's ``ASGITransport``) there is no socket, so a network fault
raises :class:`NetworkFault`, which the client sees as an exception.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..catalog import ErrorCatalog
from ..domain.accounts import Account, _bearer
from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..faults.effects import Effects, HttpError
from ..faults.rules import Request
from ..results.names import BUCKETS, task_of
from ..server import loglines
from ..support import streams
from ..support.headers import RawHeaders
from ..support.pacing import PerSecond
from ..support.parsing import json_object
from . import guard
from .admin_token import CHALLENGE
from .responses import dumps, error_body, json_response

CONTROL_PREFIX = "/__mock"
RESULTS_PREFIXES = tuple(f"/{bucket}/" for bucket in BUCKETS)
_ROUTES = [
    ("POST", re.compile(r"^/api/v1/services/[^/]+/[^/]+/[^/]+/?$"), "submit"),  # a sync model's call too
    ("GET", re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)/?$"), "query"),
    ("POST", re.compile(r"^/api/v1/tasks/(?P<task_id>[^/]+)/cancel/?$"), "cancel"),
    ("GET", re.compile(r"^/api/v1/tasks/?$"), "list"),
]
requests_log = logging.getLogger("mockserver.requests")  # one structured line per DashScope request


class NetworkFault(ConnectionError):
    """A network fault where there is no socket to break (in-process ASGI)."""


class Edge:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator
        self._hosts = guard.configured_hosts(emulator.settings)
        self._directive = emulator.faults.header.encode()  # the directive header's name, as ASGI spells it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            refusal = guard.refusal(scope, send, self.emulator.settings.admin_token, self._hosts)
            if refusal is not None:
                challenge = [(b"www-authenticate", CHALLENGE.encode())] if refusal[0] == 401 else []  # browsers ask
                await _send_json(send, *refusal, headers=challenge)
                return
            await self.app(scope, receive, send)
            return
        if path.startswith(RESULTS_PREFIXES) and scope["method"] in ("GET", "HEAD"):
            await self._download(scope, receive, send, task_of(path))
            return
        route, task_id = _classify(scope["method"], path)
        if route == "other":
            await self.app(scope, receive, send)
            return
        await self._dashscope(scope, receive, send, route, task_id)

    async def _dashscope(self, scope: Scope, receive: Receive, send: Send, route: str, task_id: str | None) -> None:
        arrival, receive = await self.arrive(scope, receive, route, task_id)
        await self.answer(scope, receive, send, arrival)

    async def arrive(self, scope: Scope, receive: Receive, route: str, task_id: str | None) -> tuple[Arrival, Receive]:
        """What is known of a DashScope request before it is answered (:meth:`judge`), a submit's body read first
        (bounded, and parsed into the scope's state); and the ``receive`` to read it with."""
        emulator = self.emulator
        arrival = Arrival(route, task_id, emulator.clock.now(), time.perf_counter())
        state = scope.setdefault("state", {})
        payload = None
        if route == "submit":
            body, receive = await streams.buffer(
                scope, receive, emulator.settings.max_body_bytes, emulator.settings.body_timeout_seconds
            )
            payload = payload_of(body) if body is not None else None
            state["payload"] = payload  # parsed once: the submit route hands it to the emulator
            if body is not None:
                state["body"] = body  # read once: the route reads it from here
        self.judge(scope, arrival, payload)
        return arrival, receive

    def judge(self, scope: Scope, arrival: Arrival, payload: dict[str, Any] | None,
              headers: RawHeaders | None = None) -> None:
        """Fill in ``arrival``'s account and model (a submit's ``payload``: its parsed body) and the fault effects
        chosen for the request (which count it for the rules that match). ``headers``: the request's, indexed
        once (the answer at the socket reads them again)."""
        emulator = self.emulator
        if headers is None:
            headers = RawHeaders(scope["headers"])
        authorization = headers.first(b"authorization")
        auth = authenticated(scope.setdefault("state", {}), emulator, authorization)
        arrival.account = auth.id if isinstance(auth, Account) else None
        arrival.model, prompt = _model_and_prompt(payload)
        directive = headers.first(self._directive)
        if emulator.faults.quiet(prompt, directive):
            return  # nothing armed, nothing asked: no Request to build
        request = Request(arrival.route, arrival.account, _bearer(authorization) or None, arrival.model, prompt)
        arrival.effects = emulator.faults.for_request(request, directive)

    async def answer(self, scope: Scope, receive: Receive, send: Send, arrival: Arrival) -> None:
        """Serve a DashScope request whose fault effects are chosen, and journal it (the fast path hands on here)."""
        state = scope.setdefault("state", {})
        effects = arrival.effects
        if effects is not None and effects.http is not None:
            state["fault"] = effects.http
        seen: dict[str, Any] = {"status": None}
        transport = guard.transport_of(send)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                if effects is not None and effects.network is not None and effects.network.kind == "stall":
                    await asyncio.sleep(effects.network.seconds)
            await send(message)

        network = effects.network.kind if effects is not None and effects.network is not None else None
        try:
            if network in ("reset", "empty"):
                await _drop(transport, reset=network == "reset")
            elif network == "truncate":
                await self.app(scope, receive, _truncating(send, transport, seen))
            else:
                await self.app(scope, receive, watch)
        finally:
            journal(self.emulator, scope, arrival, None if network in ("reset", "empty") else seen["status"], effects)

    async def _download(self, scope: Scope, receive: Receive, send: Send, task_id: str | None) -> None:
        """A result image's GET/HEAD, journaled under its task, so timelines show downloads.

        Fault rules with ``route: download`` (matched on the task's account and
        model) can reset, empty, cut or stall it; no directive reaches it.
        """
        arrived = self.emulator.clock.now()
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": None, "request_id": None}
        task = self.emulator.store.get_task(task_id) if task_id is not None else None
        effects = None
        if task is not None:
            effects = self.emulator.faults.rules.fire(Request("download", task.account, None, task.model), plan=False)
        network = effects.network if effects is not None else None

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["request_id"] = dict(message.get("headers", [])).get(b"x-oss-request-id", b"").decode() or None
                if network is not None and network.kind == "stall":
                    await asyncio.sleep(network.seconds)
            await send(message)

        transport = guard.transport_of(send)
        try:
            if network is not None and network.kind in ("reset", "empty"):
                await _drop(transport, reset=network.kind == "reset")
            elif network is not None and network.kind == "truncate":
                await self.app(scope, receive, _truncating(send, transport, seen))
            else:
                await self.app(scope, receive, watch)
        finally:
            record(
                self.emulator,
                time=arrived,
                account=task.account if task is not None else None,
                method=scope["method"],
                path=scope["path"],
                route="download",
                status=None if network is not None and network.kind in ("reset", "empty") else seen["status"],
                request_id=seen["request_id"],  # the x-oss-request-id the client saw
                latency_ms=latency_ms(started),
                task_id=task_id,
                model=task.model if task is not None else None,
                fault=_fault_name(effects),
            )


@dataclass
class Arrival:
    """What the edge knows of a DashScope request before it is answered."""

    route: str
    task_id: str | None
    time: float  # on the emulator's clock
    started: float  # perf_counter(), for the latency
    account: str | None = None  # None: not authenticated
    model: str | None = None  # a submit's
    effects: Effects | None = None  # the HTTP effects of the fault rules and directives


def journal(emulator: Emulator, scope: Scope, arrival: Arrival, status: int | None, effects: Effects | None = None) -> None:
    """Journal a DashScope request the edge admitted, once answered (``status`` None: nothing was sent)."""
    state = scope.setdefault("state", {})
    forget_body(state)
    answered_id, answered_status = state.get("task", (None, None))  # the submit and query routes say which task
    record(  # by position, in the entry's order: one of these per submit
        emulator,
        arrival.time,
        arrival.account,
        scope["method"],
        scope["path"],
        arrival.route,
        status,
        state.get("request_id"),
        latency_ms(arrival.started),
        arrival.task_id or answered_id,
        answered_status,
        arrival.model,
        _fault_name(effects),
        state.get("code") if status is not None and status >= 400 else None,
    )


def latency_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``perf_counter()`` reading), to the microsecond, as the journal keeps them
    (as ``round(..., 3)`` gives them, but for ties, at a fraction of its cost: every request is journaled)."""
    return int((time.perf_counter() - started) * 1_000_000 + 0.5) / 1000


def record(emulator: Emulator, *fields: Any, **named: Any) -> None:
    """Journal a request (which also counts it for the metrics) and log its line: the first
    ``log_lines_per_second`` of each second (:mod:`mockserver.support.pacing`). ``fields`` are the journal
    entry's (:meth:`mockserver.domain.journal.Journal.record`)."""
    entry = emulator.journal.record(*fields, **named)
    if requests_log.isEnabledFor(logging.INFO) and _paced(emulator).admit():
        loglines.info(requests_log, entry.log_line(emulator.settings.log_format))


def _paced(emulator: Emulator) -> PerSecond:
    """The pacing of the emulator's request lines, made on its first request and kept with its journal."""
    paced = emulator.journal.lines
    if paced is None:
        paced = emulator.journal.lines = PerSecond(emulator.settings.log_lines_per_second, _left_out)
    return paced


def _left_out(count: int) -> None:
    loglines.info(requests_log, f"... and {count} more requests in that second, not logged (log_lines_per_second; "
                                "GET /__mock/requests has them all)")


def forget_body(state: dict[str, Any]) -> None:
    """Drop a submit's body from the request's state once answered (uvicorn keeps a kept-alive connection's last scope)."""
    state.pop("payload", None)
    state.pop("body", None)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def account_of(scope: Scope, emulator: Emulator) -> Account:
    """The request's account, authenticated once per request (kept in the scope's state); raises the 401."""
    state = scope.setdefault("state", {})
    auth = state.get("auth")
    if auth is None:
        auth = authenticated(state, emulator, header(scope, b"authorization"))
    if isinstance(auth, ApiError):
        raise auth
    return auth


def authenticated(state: dict[str, Any], emulator: Emulator, authorization: str | None) -> Account | ApiError:
    """The account of a request's ``Authorization`` header, or the 401 to answer (raised later, in the route's
    order); kept in the request's ``state``, so a request is authenticated once."""
    auth = state.get("auth")
    if auth is None:
        auth = state["auth"] = authenticate(emulator, authorization)
    return auth


def authenticate(emulator: Emulator, authorization: str | None) -> Account | ApiError:
    """The account of an ``Authorization`` header, or the 401 to answer."""
    try:
        return emulator.authenticate(authorization)
    except ApiError as error:
        return error


def _classify(method: str, path: str) -> tuple[str, str | None]:
    for verb, pattern, route in _ROUTES:
        match = pattern.match(path)
        if match is not None and method == verb:
            return route, match.groupdict().get("task_id")
    return "other", None


async def _send_json(send: Send, status: int, payload: dict[str, str], headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def payload_of(body: bytes) -> dict[str, Any] | None:
    """The submit's JSON object, parsed as the emulator parses it; None when it is not one."""
    try:
        return json_object(body)
    except ApiError:
        return None


def _model_and_prompt(payload: dict[str, Any] | None) -> tuple[str | None, str | None]:
    if payload is None:
        return None, None
    model = payload.get("model") if isinstance(payload.get("model"), str) else None
    input_ = payload.get("input")
    prompt = input_.get("prompt") if isinstance(input_, dict) else None
    return model, prompt if isinstance(prompt, str) else None


def _fault_name(effects: Effects | None) -> str | None:
    if effects is None:
        return None
    if effects.network is not None and effects.network.kind != "stall":
        return f"network:{effects.network.kind}"
    if effects.http is not None:
        return f"http:{effects.http.code}"
    return f"network:{effects.network.kind}" if effects.network is not None else None


async def _drop(transport: asyncio.Transport | None, *, reset: bool) -> None:
    """Close the connection with nothing sent: with an RST (``reset``) or a plain FIN."""
    if transport is None:
        raise NetworkFault("connection reset by peer" if reset else "server closed the connection without a reply")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    await _settle()


def _truncating(send: Send, transport: asyncio.Transport | None, seen: dict[str, Any]) -> Send:
    """A ``send`` that passes the headers and half the body, then closes the connection."""
    done = False

    async def cut(message: Message) -> None:
        nonlocal done
        if done:
            return
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            await send(message)
            return
        body = message.get("body", b"")
        done = True
        if transport is None:
            raise NetworkFault("peer closed the connection without sending the complete body")
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        transport.close()
        await _settle()

    return cut


async def _settle() -> None:
    """Let the loop run the server's ``connection_lost`` so it knows the client is gone."""
    for _ in range(3):
        await asyncio.sleep(0)


def fault_response(errors: ErrorCatalog, fault: HttpError, request_id: str, state: dict[str, Any]) -> Response:
    """A rule's or directive's synchronous error, in the catalog's exact shape."""
    status, body = error_body(errors, ApiError(fault.code, fault.variant, message=fault.message), request_id)
    state["code"] = body["code"]
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    return json_response(body, fault.status or status, headers=headers)
