"""The synchronous image route: ``POST /api/v1/services/aigc/multimodal-generation/generation``.

The real call holds the connection until the images exist (16.5 s for
qwen-image-max in the capture). Here the call is planned like a task and the
answer waits until the emulator's clock reaches its end: the model's duration
(scaled by ``--speed``) on the real and scaled clocks; on the manual clock the
call is planned to end at once, so it answers at once (our decision: a test
drives time, it does not wait for it).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from ..domain.clock import Clock
from ..domain.emulator import Draft, Emulator
from ..domain.errors import ApiError
from ..inputs.service import Looked
from .answer import Answer
from .responses import JSON, dumps

_POLL_SECONDS = 0.25  # how often a call re-reads a clock that was frozen or changed while it waited


async def generate(
    request: Request, emulator: Emulator, draft: Draft, looked: Looked, base_url: str, headers: list[tuple[bytes, bytes]]
) -> Response:
    """Plan the call, wait for its end on the emulator's clock, answer its images (or its error), with ``headers``."""
    request_id = request.state.request_id
    if looked.failure is not None:  # a broken rule or an unusable input image: the call's error, at once
        raise ApiError(looked.failure.code, message=looked.failure.message)
    task = emulator.commit(draft, looked, request_id)
    await until(emulator.clock, task.ended_at)
    body = {**emulator.answer_call(task, base_url), "request_id": request_id}
    return Answer(dumps(body), headers, JSON.encode())  # x-request-id: the gateway adds it


async def until(clock: Clock, moment: float) -> None:
    """Return once ``clock`` reads ``moment`` or later, sleeping the wall time that takes."""
    while (remaining := moment - clock.now()) > 0:
        wall = _POLL_SECONDS if clock.mode == "manual" else min(remaining / clock.rate, _POLL_SECONDS * 4)
        await asyncio.sleep(wall)
