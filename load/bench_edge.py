"""What the edge layer (fault matching, journal, guard) costs on the poll path.

Polls one task N times in process (httpx's ASGI transport, no sockets) through
the full app, and through the same app without its edge layer: the baseline,
measured in the same run. Prints both rates and their ratio.

    python load/bench_edge.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from mockserver.config import Settings
from mockserver.emulator import Emulator
from mockserver.faults.rules import Rule
from mockserver.http.app import create_app

HEADERS = {"Authorization": "Bearer sk-bench"}


async def polls(app, task_id: str, count: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for _ in range(count):
            response = await client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS)
            assert response.status_code == 200
        return count / (time.perf_counter() - started)


async def main(count: int) -> None:
    emulator = Emulator(Settings(clock="manual", requests_per_second=10**9))
    app = create_app(emulator=emulator)
    stack = app.middleware_stack.app  # the same app without the edge

    async def inner(scope, receive, send) -> None:
        scope["app"] = app
        await stack(scope, receive, send)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        submitted = await client.post("/api/v1/services/aigc/text2image/image-synthesis",
                                      json={"model": "wanx-v1", "input": {"prompt": "a cat"}},
                                      headers={**HEADERS, "X-DashScope-Async": "enable"})
    task_id = submitted.json()["output"]["task_id"]
    await polls(app, task_id, 200)  # warm up
    baseline = await polls(inner, task_id, count)
    full = await polls(app, task_id, count)
    emulator.faults.rules.add(Rule(match={"route": "cancel"}, http={"code": "InternalError"}))
    with_rule = await polls(app, task_id, count)
    print(f"polls/s without edge (baseline): {baseline:8.0f}")
    print(f"polls/s with edge + journal:     {full:8.0f}  ratio {full / baseline:.2f}")
    print(f"polls/s with a non-matching rule:{with_rule:8.0f}  ratio {with_rule / baseline:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
