"""The inspector's pages and assets: server-rendered shells that ``static/inspector.js`` fills by polling.

Templates and assets ship inside the package (no CDN, works offline) and are
read once. Every value put into a page is HTML-escaped.
"""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from importlib.resources import files
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ... import __version__
from ...support.timefmt import shown_time
from ..control import _emulator
from ..responses import json_response
from .activity import SPAN
from .rows import STATUSES

POLL_MS = 1000
_ASSETS = {"inspector.js": "text/javascript; charset=utf-8", "inspector.css": "text/css; charset=utf-8"}


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    return Template(files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _asset(name: str) -> bytes:
    return files(__package__).joinpath("static", name).read_bytes()


def _options(values: list[str]) -> str:
    return "".join(f'<option value="{escape(value)}">{escape(value)}</option>' for value in values)


async def index(request: Request) -> Response:
    emulator = _emulator(request)
    accounts = [account.id for account in emulator.settings.accounts] + emulator.store.account_ids()
    page = _template("index.html").substitute(
        version=escape(__version__),
        poll_ms=POLL_MS,
        now=escape(shown_time(emulator.clock.now())),
        mode=escape(emulator.clock.mode),
        account_options=_options(list(dict.fromkeys(accounts))),
        model_options=_options(sorted(emulator.catalog.models)),
        status_options=_options(list(STATUSES)),
        code_options=_options(sorted(spec.code for spec in emulator.catalog.errors)),
        span=SPAN,
    )
    return HTMLResponse(page, headers={"cache-control": "no-store"})


async def task_page(request: Request) -> Response:
    emulator = _emulator(request)
    task_id = request.path_params["task_id"]
    task = emulator.store.get_task(task_id)
    if task is None:
        body = f"<!doctype html><title>no task</title><p>No task <code>{escape(task_id)}</code>. " \
               f'<a href="/__mock/ui/">Every task</a></p>'
        return HTMLResponse(body, status_code=404)
    request_shown = json.dumps({"input": task.input, "parameters": task.parameters}, indent=2, ensure_ascii=False)
    page = _template("task.html").substitute(
        task_id=escape(task.task_id),
        poll_ms=POLL_MS,
        account=escape(task.account),
        model=escape(task.model),
        images=task.image_count,
        submitted=escape(shown_time(task.submitted_at)),
        request=escape(request_shown),
    )
    return HTMLResponse(page, headers={"cache-control": "no-store"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _ASSETS:
        return json_response({"code": "NotFound", "message": f"no asset {name}"}, 404)
    return Response(_asset(name), media_type=_ASSETS[name], headers={"cache-control": "no-cache"})


async def to_index(request: Request) -> Response:
    return RedirectResponse("/__mock/ui/", status_code=307)


routes: list[Route] = [
    Route("/__mock/ui", to_index, methods=["GET"]),
    Route("/__mock/ui/", index, methods=["GET"]),
    Route("/__mock/ui/tasks/{task_id}", task_page, methods=["GET"]),
    Route("/__mock/ui/static/{name}", asset, methods=["GET"]),
]
