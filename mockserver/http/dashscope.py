"""DashScope's routes under ``/api/v1``: thin handlers that parse, call the emulator, render.

Every route answers with and without a trailing slash (the SDK's asyncio
variant adds one); the gateway has already authenticated the request.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from ..domain.emulator import Draft, Emulator
from ..domain.errors import ApiError
from ..inputs.service import Looked
from ..support.headers import RawHeaders
from ..support.streams import TooLarge, TooSlow, read_capped
from . import multimodal
from .answer import Answer, submit_headers, submitted_body
from .responses import JSON, JSON_UTF8, dumps, json_response

_CLOSE = {"Connection": "close"}
_SIMPLE_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?")  # a Host that is its own netloc (else Starlette parses it)
Endpoint = Callable[[Request], Awaitable[Response]]
_JSON = JSON.encode()


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


def base_url(request: Request) -> str:
    """Where this request came in: the default base of the result URLs."""
    return scope_base_url(request.scope, request.headers.get("host"))


def scope_base_url(scope: Scope, host: str | None) -> str:
    """``scheme://host`` the request came to, as Starlette's ``request.url`` has it (without building it when
    the ``Host`` header is plain)."""
    scheme = scope.get("scheme", "http")
    if host is not None and _SIMPLE_HOST.fullmatch(host):
        return f"{scheme}://{host}"
    return f"{scheme}://{URL(scope=scope).netloc}"


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (default ``max_body_bytes``; never
    buffered whole) and with 408 when it is slower than ``body_timeout_seconds``. Both close the
    connection: the rest of the body is never read."""
    buffered = request.scope.get("state", {}).get("body")
    if buffered is not None:  # the edge read it whole already (a submit's, for fault matching)
        return buffered
    settings = _emulator(request).settings
    try:
        return await read_capped(
            request.stream(), limit or settings.max_body_bytes, request.headers.get("content-length"),
            settings.body_timeout_seconds,
        )
    except TooLarge:
        raise ApiError("BadRequest.TooLarge", headers=_CLOSE) from None
    except TooSlow:
        raise ApiError("RequestTimeOut", headers=_CLOSE) from None


async def submit(request: Request) -> Response:
    """A submit: checked, its inputs looked at, queued; answered with the new task's id.

    The hottest route after the poll, so it reads the scope's state and headers directly (Starlette's
    ``request.state`` and ``request.headers`` build objects per use) and writes its answer's bytes itself.
    """
    scope = request.scope
    emulator: Emulator = scope["app"].state.emulator
    state = scope.setdefault("state", {})
    body = await read_body(request)
    request_id = state["request_id"]
    params = scope["path_params"]
    headers = RawHeaders(scope["headers"])
    draft = emulator.prepare(
        state["account"], params["group"], params["function"], body, headers, params["service"], state.get("payload")
    )
    base = scope_base_url(scope, headers.get("host"))
    looked = await emulator.look(draft, base)
    if draft.entry.output.shape == "call":  # the synchronous image route: the answer waits for the images
        return await multimodal.generate(request, emulator, draft, looked, base, submit_headers(request_id))
    return submitted(emulator, draft, looked, request_id, state)


def submitted(emulator: Emulator, draft: Draft, looked: Looked, request_id: str, state: dict[str, Any]) -> Answer:
    """A submit's answer once its inputs are looked at: a synchronous model's output, or the task queued (and named
    in the request's ``state`` for the journal). The answer at the socket ends the same way (``fastsubmit.py``)."""
    if draft.entry.mode == "sync":  # the finished output is the answer: no task
        answer = {**emulator.call(draft, looked), "request_id": request_id}
        return Answer(dumps(answer), submit_headers(request_id), _JSON)
    task = emulator.commit(draft, looked, request_id)
    state["task"] = (task.task_id, "PENDING")  # for the journal
    return Answer(submitted_body(request_id, task.task_id), submit_headers(request_id), _JSON)


async def query(request: Request) -> Response:
    emulator = _emulator(request)
    answer = emulator.query(request.state.account, request.path_params["task_id"], base_url(request))
    request.state.task = (answer["output"]["task_id"], answer["output"]["task_status"])  # for the journal
    return json_response({"request_id": request.state.request_id, **answer}, media_type=JSON_UTF8)


async def cancel(request: Request) -> Response:
    emulator = _emulator(request)
    await read_body(request)  # empty, or the asyncio SDK's JSON: ignored
    emulator.cancel(request.state.account, request.path_params["task_id"])
    return json_response({"request_id": request.state.request_id}, media_type=JSON_UTF8)


async def list_tasks(request: Request) -> Response:
    emulator = _emulator(request)
    page = emulator.list_tasks(request.state.account, request.query_params)
    # The captured order puts request_id between page_no and page_size.
    body = {key: page[key] for key in ("total", "data", "total_page", "page_no")}
    body["request_id"] = request.state.request_id
    body["page_size"] = page["page_size"]
    return json_response(body, media_type=JSON_UTF8)


def _both(path: str, endpoint: Endpoint, method: str) -> list[Route]:
    """The route with and without a trailing slash."""
    return [Route(path, endpoint, methods=[method]), Route(path + "/", endpoint, methods=[method])]


routes: list[Route] = [
    *_both("/api/v1/services/{service}/{group}/{function}", submit, "POST"),
    *_both("/api/v1/tasks/{task_id}", query, "GET"),
    *_both("/api/v1/tasks/{task_id}/cancel", cancel, "POST"),
    *_both("/api/v1/tasks", list_tasks, "GET"),
]
