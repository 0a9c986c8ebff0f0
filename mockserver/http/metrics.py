"""``GET /__mock/metrics``: the emulator's metrics in Prometheus's text format (see :mod:`mockserver.domain.metrics`)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.emulator import Emulator
from ..domain.metrics import Collector


def registry(emulator: Emulator, in_flight: Callable[[], int] | None = None) -> CollectorRegistry:
    """The emulator's collector and the process's own (memory, CPU, open files), in a registry of their own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(emulator, in_flight))
    ProcessCollector(registry=registry)
    return registry


async def metrics(request: Request) -> Response:
    # A scrape reads every retained task: off the event loop, so requests keep being answered meanwhile.
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


routes: list[Route] = [Route("/__mock/metrics", metrics, methods=["GET"])]
