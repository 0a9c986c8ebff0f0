"""``GET /__mock/state`` saves the emulator's whole state as JSON; ``PUT`` restores it (see :mod:`mockserver.domain.snapshot`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain import snapshot
from ..support.parsing import json_value
from .control import _bad, _emulator
from .dashscope import read_body
from .responses import json_response


async def state_get(request: Request) -> Response:
    return json_response(snapshot.export(_emulator(request)))


async def state_put(request: Request) -> Response:
    try:
        document = json_value(await read_body(request, _emulator(request).settings.max_state_bytes))
    except ValueError:
        return _bad("the body must be a snapshot: the JSON document GET /__mock/state gives")
    emulator = _emulator(request)
    try:
        restored = snapshot.restore(emulator, document)
    except snapshot.SnapshotError as error:
        return _bad(f"snapshot not restored (nothing changed): {error}")
    return json_response({"restored": restored, "clock": emulator.clock.describe()})


routes: list[Route] = [
    Route("/__mock/state", state_get, methods=["GET"]),
    Route("/__mock/state", state_put, methods=["PUT"]),
]
