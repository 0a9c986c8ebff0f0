"""The fine-tunes API's routes under ``/api/v1/fine-tunes``: thin handlers over :class:`FineTuneJobs`.

Every route answers with and without a trailing slash, like the task routes;
the gateway has already authenticated the request.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.finetunes import FineTuneJobs
from .dashscope import _both, read_body
from .responses import JSON_UTF8, json_response


def _jobs(request: Request) -> FineTuneJobs:
    return request.app.state.emulator.fine_tunes


def _answer(request: Request, output: Any) -> Response:
    return json_response({"request_id": request.state.request_id, "output": output}, media_type=JSON_UTF8)


async def create(request: Request) -> Response:
    body = await read_body(request)
    return _answer(request, _jobs(request).create(request.state.account, body))


async def get(request: Request) -> Response:
    return _answer(request, _jobs(request).get(request.state.account, request.path_params["job_id"]))


async def cancel(request: Request) -> Response:
    await read_body(request)  # ignored
    return _answer(request, _jobs(request).cancel(request.state.account, request.path_params["job_id"]))


async def list_jobs(request: Request) -> Response:
    return _answer(request, _jobs(request).list(request.state.account, request.query_params))


routes: list[Route] = [
    *_both("/api/v1/fine-tunes", create, "POST"),
    *_both("/api/v1/fine-tunes", list_jobs, "GET"),
    *_both("/api/v1/fine-tunes/{job_id}", get, "GET"),
    *_both("/api/v1/fine-tunes/{job_id}/cancel", cancel, "POST"),
]
