"""The inspector's JSON: every task of every account (paged), one task, the accounts, and thumbnails.

These are control-plane routes like the others (documented in ``docs/control-plane.md``);
the page polls them. The clock, fault rules, timelines and resets it shows are
the control plane's own routes, called as they are.
"""

from __future__ import annotations

import dataclasses

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.emulator import HOUR
from ...lifecycle.task import SUCCEEDED
from ...support.timefmt import shown_time
from ..control import _bad, _emulator
from ..responses import json_response
from .activity import accounts
from .rows import MAX_PAGE_SIZE, STATUSES, Filters, page, row

THUMBNAIL_PIXELS = 160  # the longer side of a thumbnail


def _whole(value: str | None, default: int, name: str, most: int | None = None) -> int | str:
    """A positive integer query parameter, or the message saying what is wrong with it."""
    if value in (None, ""):
        return default
    if not value.isdigit() or int(value) < 1 or (most is not None and int(value) > most):
        return f"{name} must be a whole number from 1" + (f" to {most}" if most is not None else "")
    return int(value)


async def tasks_list(request: Request) -> Response:
    """``GET /__mock/tasks?account=&model=&status=&q=&page=&page_size=``: newest first."""
    emulator = _emulator(request)
    query = request.query_params
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        return _bad(f"status must be one of {', '.join(STATUSES)}")
    model = query.get("model") or None
    if model is not None and model not in emulator.catalog.models:
        return _bad(f"unknown model {model!r}")
    page_no = _whole(query.get("page"), 1, "page")
    page_size = _whole(query.get("page_size"), 50, "page_size", MAX_PAGE_SIZE)
    for value in (page_no, page_size):
        if isinstance(value, str):
            return _bad(value)
    filters = Filters(query.get("account") or None, model, status, (query.get("q") or "").strip() or None)
    return json_response(page(emulator, filters, int(page_no), int(page_size)))


async def task_detail(request: Request) -> Response:
    """``GET /__mock/tasks/{task_id}``: the row, with the task's input, parameters and plan."""
    emulator = _emulator(request)
    task_id = request.path_params["task_id"]
    task = emulator.store.get_task(task_id)
    if task is None:
        return json_response({"code": "NotFound", "message": f"no task {task_id}"}, 404)
    now = emulator.clock.now()
    shown = row(task, now, emulator.settings.retention_hours * HOUR)
    shown.update({
        "input": task.input,
        "parameters": task.parameters,
        "plan": {
            "scheduled": None if task.canceled_at is not None else shown_time(task.scheduled_at),
            "ended": shown_time(task.finished_at),
            "final_status": task.final_status(),
        },
        "now_shown": shown_time(now),
    })
    return json_response(shown)


async def accounts_list(request: Request) -> Response:
    """``GET /__mock/accounts``: each account's limits, usage and free quota, and its last minute's activity."""
    return json_response({"accounts": accounts(_emulator(request))})


async def thumbnail(request: Request) -> Response:
    """A small rendering of a succeeded result image: drawn at thumbnail size, not journaled as a download."""
    emulator = _emulator(request)
    task = emulator.store.get_task(request.path_params["task_id"])
    index = request.path_params["index"]
    now = emulator.clock.now()
    if (task is None or index >= task.image_count or index in task.image_failures
            or task.status_at(now, emulator.settings.retention_hours * HOUR) != SUCCEEDED):
        return json_response({"code": "NotFound", "message": "no such result image"}, 404)
    spec = emulator.images.placeholder(task, index)
    scale = THUMBNAIL_PIXELS / max(spec.width, spec.height)
    small = dataclasses.replace(spec, width=max(1, round(spec.width * scale)), height=max(1, round(spec.height * scale)))
    rendered = emulator.images.cached(small) or await run_in_threadpool(emulator.images.render, small)
    return Response(rendered.body, media_type="image/png",
                    headers={"cache-control": "private, max-age=86400", "etag": rendered.etag})


routes: list[Route] = [
    Route("/__mock/tasks", tasks_list, methods=["GET"]),
    Route("/__mock/tasks/{task_id}", task_detail, methods=["GET"]),
    Route("/__mock/accounts", accounts_list, methods=["GET"]),
    Route("/__mock/ui/thumbs/{task_id}/{index:int}.png", thumbnail, methods=["GET"]),
]
