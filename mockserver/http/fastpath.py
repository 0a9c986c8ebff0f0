"""The poll route in one pass: ``GET /api/v1/tasks/{task_id}`` as plain ASGI (and rendered result images).

Clients poll a task many times for each submit, so this one route carries most
of the load. Through the general stack a poll crosses the edge, Starlette's
error middleware, the gateway, the router and a ``Request``, each with its own
``send`` wrapper; here the same steps run once, in the same order and with the
same results: authenticate, ask the fault engine, throttle and read the task
(``Emulator.poll``), render the exact bytes and headers, journal. A waiting
task's answer is rendered once per state and kept: it is what clients poll for.

Whatever is not a plain poll goes the general way: other routes and methods,
and any poll a fault rule or directive shapes (its effects, already chosen, are
handed to :meth:`Edge.answer`, so rules count each request once). The two paths
answer byte for byte alike (``tests/test_fastpath.py``; the raw-HTTP tests pin the bytes).

The downloads of result images that are already rendered take the same kind
of shortcut (:mod:`.fastdownload`; every other download, and every OSS error,
is the general path's), and so do submits (:mod:`.fastsubmit`).
"""

from __future__ import annotations

import time

from starlette.types import Receive, Scope, Send

from ..domain.accounts import Account, _bearer
from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..faults.rules import Request
from ..lifecycle.task import PENDING, RUNNING, Task
from ..server.wire import http_bytes
from .compression import Compression
from .dashscope import scope_base_url
from .edge import RESULTS_PREFIXES, Arrival, Edge, authenticate, latency_ms, record
from .fastdownload import Downloads
from .fastsubmit import Submits, submit_params
from .gateway import envoy_headers, unexpected
from .responses import JSON_UTF8, dumps, error_parts

_TASKS = "/api/v1/tasks/"
_RENDERED = 4096  # answers of waiting tasks kept rendered
_JSON_UTF8 = JSON_UTF8.encode()
_Asked = tuple[str | None, str | None, str | None, str | None]  # authorization, directive, host, accept-encoding
_Note = tuple[str | None, str, str | None, str | None]  # the journal's account, request id, task status, code


class FastPath:
    """Outermost ASGI app: serves plain polls itself and hands everything else to ``edge``."""

    def __init__(self, edge: Edge, emulator: Emulator, compression: Compression) -> None:
        self.edge = edge
        self.emulator = emulator
        self.compression = compression  # the general path's compression layer, whose sender polls use too
        self._directive = emulator.faults.header.encode()
        self._rendered: dict[str, tuple[Task, str, bytes]] = {}  # task id: (task, state, answer after "{")
        self.downloads = Downloads(emulator)
        self.submits = Submits(edge, emulator, compression)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.emulator.sync()  # another worker may have moved the shared clock or fired a rule
        if scope["type"] == "http" and scope["method"] == "GET":
            task_id = _task_id(scope["path"])
            if task_id is not None:
                await self._poll(scope, receive, send, task_id)
                return
            if scope["path"].startswith(RESULTS_PREFIXES) and await self.downloads.serve(scope, send):
                return
        elif scope["type"] == "http" and (params := submit_params(scope)) is not None:
            await self.submits.serve(scope, receive, send, params)
            return
        await self.edge(scope, receive, send)

    def wire(self, scope: Scope, body: bytes | None, keep_alive: bool) -> tuple[bytes, bool] | None:
        """A plain poll (or a rendered image's download, or a submit: :meth:`Submits.wire`) answered at the socket,
        before uvicorn makes an ASGI task for it (:mod:`mockserver.server.wire`): the whole answer's bytes, or None
        for anything else, a poll a fault may shape included (the ASGI path serves those, the same way as ever)."""
        if scope["method"] == "POST":
            params = submit_params(scope)
            if params is None or body is None:
                return None
            self.emulator.sync()
            return self.submits.wire(scope, body, params, keep_alive)
        if scope["method"] != "GET":
            return None
        task_id = _task_id(scope["path"])
        if task_id is None:
            if scope["path"].startswith(RESULTS_PREFIXES):
                self.emulator.sync()
                return self.downloads.wire(scope, keep_alive)
            return None
        emulator = self.emulator
        emulator.sync()  # another worker may have moved the shared clock or fired a rule
        arrived, started = emulator.clock.now(), time.perf_counter()
        asked = self._asked(scope["headers"])
        if asked[1] is not None or emulator.faults.rules.armed:
            return None
        auth = authenticate(emulator, asked[0])
        status, headers, body, note = self._served(scope, task_id, auth, asked, arrived, started)
        answer = http_bytes(status, headers, body, keep_alive)
        self._journal(scope, task_id, status, note, arrived, started)
        return answer

    async def _poll(self, scope: Scope, receive: Receive, send: Send, task_id: str) -> None:
        emulator = self.emulator
        arrived, started = emulator.clock.now(), time.perf_counter()
        asked = self._asked(scope["headers"])
        auth = authenticate(emulator, asked[0])
        if asked[1] is not None or emulator.faults.rules.armed:
            account_id = auth.id if isinstance(auth, Account) else None
            request = Request("query", account_id, _bearer(asked[0]) or None)
            effects = emulator.faults.for_request(request, asked[1])
            if effects is not None:  # a fault shapes this answer: the general path serves it
                scope.setdefault("state", {})["auth"] = auth
                arrival = Arrival("query", task_id, arrived, started, account_id, None, effects)
                await self.edge.answer(scope, receive, send, arrival)
                return
        status, headers, body, note = self._served(scope, task_id, auth, asked, arrived, started)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._journal(scope, task_id, status, note, arrived, started)

    def _asked(self, headers: list[tuple[bytes, bytes]]) -> _Asked:
        """One pass over the request's headers for the four a poll reads."""
        authorization = directive = host = accept_encoding = None
        for name, value in headers:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == self._directive and directive is None:
                directive = value.decode("latin-1")
            elif name == b"host" and host is None:
                host = value.decode("latin-1")
            elif name == b"accept-encoding" and accept_encoding is None:
                accept_encoding = value.decode("latin-1")
        return authorization, directive, host, accept_encoding

    def _served(self, scope: Scope, task_id: str, auth: Account | ApiError, asked: _Asked, arrived: float,
                started: float) -> tuple[int, list[tuple[bytes, bytes]], bytes, _Note]:
        """The poll's answer (status, headers, body, as the general path would send them) and what the journal
        takes of it: the throttle and the task read happen here (``Emulator.poll``)."""
        emulator = self.emulator
        request_id = emulator.ids.request_id()
        task_status = code = None
        extra: list[tuple[bytes, bytes]] = []
        try:
            if isinstance(auth, ApiError):
                raise auth
            task, task_status = emulator.poll(auth, task_id)
            status, media = 200, _JSON_UTF8
            body = b'{"request_id":"%s",%s' % (request_id.encode(), self._answer(task_id, task, task_status, scope, asked[2]))
        except Exception as exception:
            if not isinstance(exception, ApiError):
                unexpected(scope, request_id)
                exception = ApiError("InternalError")
            status, body, content_type = error_parts(emulator.catalog.errors, exception, request_id)
            media, code = content_type.encode("latin-1"), emulator.catalog.errors[exception.code].code
            extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in exception.headers.items()]
        headers = [*extra, (b"content-length", str(len(body)).encode()), (b"content-type", media)]
        headers += envoy_headers(emulator, started, arrived, request_id)
        headers, body = self.compression.whole("GET", asked[3], status, headers, body)
        account_id = auth.id if isinstance(auth, Account) else None
        return status, headers, body, (account_id, request_id, task_status, code)

    def _journal(self, scope: Scope, task_id: str, status: int, note: _Note, arrived: float, started: float) -> None:
        account_id, request_id, task_status, code = note
        record(  # by position, in the journal entry's order (time, account, method, path, route, status, ...)
            self.emulator, arrived, account_id, "GET", scope["path"], "query", status, request_id, latency_ms(started),
            task_id, task_status, None, None, code,  # no model, no fault: a poll a fault shapes goes the general way
        )

    def _answer(self, task_id: str, task: Task | None, status: str, scope: Scope, host: str | None) -> bytes:
        """The answer's JSON after its opening brace (the request id goes first), rendered once per task and state
        while the task is PENDING or RUNNING: it cannot change then (no URLs, no times that move), and it is what
        clients poll for. Kept with the task object itself, so a restored snapshot's task renders anew."""
        waiting = task is not None and status in (PENDING, RUNNING)
        if waiting:
            cached = self._rendered.get(task_id)
            if cached is not None and cached[0] is task and cached[1] == status:
                return cached[2]
        tail = dumps(self.emulator.answer(task_id, task, status, scope_base_url(scope, host)))[1:]
        if waiting:
            if len(self._rendered) >= _RENDERED:
                del self._rendered[next(iter(self._rendered))]  # the oldest entry
            self._rendered[task_id] = (task, status, tail)
        return tail



def _task_id(path: str) -> str | None:
    """The id of ``/api/v1/tasks/{id}`` (one trailing slash allowed, as every route takes), else None."""
    if not path.startswith(_TASKS):
        return None
    task_id = path[len(_TASKS) :]
    if task_id.endswith("/"):
        task_id = task_id[:-1]
    return task_id if task_id and "/" not in task_id else None
