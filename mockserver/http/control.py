"""The control plane under ``/__mock/``: a prefix no DashScope route can collide with."""

from __future__ import annotations

import math
import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__
from ..catalog.openapi import build as build_openapi
from ..domain.emulator import Emulator
from ..support.parsing import json_value
from .dashscope import read_body
from .responses import json_response


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


def _bad(message: str) -> Response:
    return json_response({"code": "InvalidParameter", "message": message}, 400)


async def _json(request: Request) -> dict | None:
    """The body as a JSON object ({} when empty), None when it is not one; bounded like every body."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    try:
        data = json_value(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def health(request: Request) -> Response:
    emulator = _emulator(request)
    return json_response({
        "status": "ok", "version": __version__, "tasks": emulator.store.count(), "clock": emulator.clock.describe(),
        "store": emulator.settings.store.split(":", 1)[0], "pid": os.getpid(),  # which worker answered
    })


async def reset(request: Request) -> Response:
    data = await _json(request)
    if data is None:
        return _bad("the body must be a JSON object")
    account = data.get("account")
    if account is not None and not isinstance(account, str):
        return _bad("account must be a string")
    key = data.get("key")  # one account, named by one of its API keys
    if key is not None:
        if not isinstance(key, str) or not key:
            return _bad("key must be a non-empty string")
        account = _emulator(request).authenticate(f"Bearer {key}").id
    _emulator(request).reset(account)
    return json_response({"reset": account or "all"})


async def clock(request: Request) -> Response:
    return json_response(_emulator(request).clock.describe())


async def clock_advance(request: Request) -> Response:
    data = await _json(request)
    seconds = data.get("seconds") if data is not None else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return _bad('send {"seconds": N} with N a finite number >= 0')
    emulator = _emulator(request)
    try:
        emulator.clock.advance(float(seconds))
    except ValueError as error:
        return _bad(str(error))
    return json_response(emulator.clock.describe())


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 contract, generated from the catalog this emulator serves."""
    return json_response(build_openapi(_emulator(request).catalog))


routes: list[Route] = [
    Route("/__mock/health", health, methods=["GET"]),
    Route("/__mock/reset", reset, methods=["POST"]),
    Route("/__mock/clock", clock, methods=["GET"]),
    Route("/__mock/clock/advance", clock_advance, methods=["POST"]),
    Route("/__mock/openapi.json", openapi, methods=["GET"]),
]
