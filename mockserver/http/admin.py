"""The control plane's fault rules, request journal, clock and seed (``/__mock/...``).

Documented in ``docs/control-plane.md``. The edge serves these routes to
loopback clients only, or to any client with the admin token.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..faults.rules import Rule
from .control import _bad, _emulator, _json
from .responses import json_response

_NUMBER_FILTERS = {"status": int, "since": float, "until": float, "limit": int, "after": int}
PAGE_LIMIT, MAX_PAGE_LIMIT = 1000, 10000  # entries a page of the journal (``after=``) holds by default, and at most
_TEXT_FILTERS = ("task_id", "account", "route", "method", "model", "fault", "task_status", "code")


def _invalid(error: ValidationError) -> Response:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in error.errors()[:5])
    return _bad(problems)


async def faults_add(request: Request) -> Response:
    data = await _json(request)
    if data is None:
        return _bad("the body must be a JSON object: a rule, or {\"rules\": [...]}")
    raw = data["rules"] if "rules" in data else [data]
    if not isinstance(raw, list) or not raw:
        return _bad("rules must be a non-empty list of rules")
    try:
        rules = [Rule.model_validate(item) for item in raw]
        for rule in rules:
            rule.check(_emulator(request).catalog.errors)
    except ValidationError as error:
        return _invalid(error)
    except ValueError as error:
        return _bad(str(error))
    faults = _emulator(request).faults.rules
    return json_response({"rules": [faults.add(rule) for rule in rules]})


async def faults_list(request: Request) -> Response:
    return json_response({"rules": _emulator(request).faults.rules.describe()})


async def faults_clear(request: Request) -> Response:
    _emulator(request).faults.rules.clear()
    return json_response({"rules": []})


async def fault_remove(request: Request) -> Response:
    rule_id = request.path_params["rule_id"]
    if not rule_id.isdigit() or not _emulator(request).faults.rules.remove(int(rule_id)):
        return json_response({"code": "NotFound", "message": f"no fault rule {rule_id}"}, 404)
    return json_response({"removed": int(rule_id)})


def _filters(request: Request) -> dict[str, Any] | Response:
    emulator = _emulator(request)
    query = request.query_params
    filters: dict[str, Any] = {key: query[key] for key in _TEXT_FILTERS if query.get(key)}
    for key, kind in _NUMBER_FILTERS.items():
        if query.get(key):
            try:
                filters[key] = kind(query[key])
            except ValueError:
                return _bad(f"{key} must be a number")
    if query.get("key"):  # a client knows its key, not the account id the emulator derived from it
        filters["account"] = emulator.authenticate(f"Bearer {query['key']}").id
    if "method" in filters:
        filters["method"] = filters["method"].upper()
    return filters


async def requests_list(request: Request) -> Response:
    filters = _filters(request)
    if isinstance(filters, Response):
        return filters
    journal = _emulator(request).journal
    if "after" in filters:  # a page: the oldest ``limit`` past entry number ``after``, and where the next starts
        limit = filters.get("limit", PAGE_LIMIT)
        if not 1 <= limit <= MAX_PAGE_LIMIT or filters["after"] < 0:
            return _bad(f"after must be >= 0 and limit from 1 to {MAX_PAGE_LIMIT}")
        page, following = journal.page(filters["after"], limit, filters)
        return json_response({"requests": [entry.as_dict() for entry in page], "next": following})
    entries = journal.select(filters)
    limit = filters.get("limit")
    shown = entries[-limit:] if limit else entries  # the newest ``limit``, oldest first
    return json_response({"total": len(entries), "requests": [entry.as_dict() for entry in shown]})


async def requests_count(request: Request) -> Response:
    filters = _filters(request)
    if isinstance(filters, Response):
        return filters
    return json_response({"count": len(_emulator(request).journal.select(filters))})


async def requests_clear(request: Request) -> Response:
    _emulator(request).journal.clear()
    return json_response({"requests": []})


async def task_timeline(request: Request) -> Response:
    task_id = request.path_params["task_id"]
    events = _emulator(request).timeline(task_id)
    if events is None:
        return json_response({"code": "NotFound", "message": f"no task {task_id}: it was never submitted, "
                              "or it was purged and the journal no longer holds its requests"}, 404)
    return json_response({"task_id": task_id, "timeline": events})


async def clock_set(request: Request) -> Response:
    data = await _json(request)
    value = data.get("time") if data is not None else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return _bad('send {"time": T} with T epoch seconds, not before the clock\'s now')
    clock = _emulator(request).clock
    try:
        clock.set(float(value))
    except ValueError as error:
        return _bad(str(error))
    return json_response(clock.describe())


async def clock_freeze(request: Request) -> Response:
    clock = _emulator(request).clock
    clock.switch("manual")
    return json_response(clock.describe())


async def clock_resume(request: Request) -> Response:
    """Run again from where the clock stands: in real time, or ``rate`` times faster."""
    data = await _json(request)
    rate = data.get("rate") if data is not None else None
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0):
        return _bad('send {} or {"rate": R} with R > 0')
    clock = _emulator(request).clock
    try:
        clock.switch("scaled" if rate is not None else "real", rate=rate)
    except ValueError as error:
        return _bad(str(error))
    return json_response(clock.describe())


async def seed(request: Request) -> Response:
    """Make ids, durations and fault probabilities repeat from ``seed`` from now on."""
    data = await _json(request)
    value = data.get("seed") if data is not None else None
    if isinstance(value, bool) or not isinstance(value, int):
        return _bad('send {"seed": N} with N an integer')
    emulator = _emulator(request)
    emulator.ids.reseed(value)
    emulator.faults.rules.reseed(value)
    return json_response({"seed": value})


routes: list[Route] = [
    Route("/__mock/faults", faults_list, methods=["GET"]),
    Route("/__mock/faults", faults_add, methods=["POST"]),
    Route("/__mock/faults", faults_clear, methods=["DELETE"]),
    Route("/__mock/faults/{rule_id}", fault_remove, methods=["DELETE"]),
    Route("/__mock/requests", requests_list, methods=["GET"]),
    Route("/__mock/requests", requests_clear, methods=["DELETE"]),
    Route("/__mock/requests/count", requests_count, methods=["GET"]),
    Route("/__mock/tasks/{task_id}/timeline", task_timeline, methods=["GET"]),
    Route("/__mock/clock/set", clock_set, methods=["POST"]),
    Route("/__mock/clock/freeze", clock_freeze, methods=["POST"]),
    Route("/__mock/clock/resume", clock_resume, methods=["POST"]),
    Route("/__mock/seed", seed, methods=["POST"]),
]
