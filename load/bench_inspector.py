"""The inspector's pages with many tasks: what one poll of each costs.

Fills an emulator with N tasks (default 100 000; ten accounts, one model, a
manual clock moved so that they are a mix of PENDING, RUNNING and SUCCEEDED),
then times the inspector's JSON and page in process (httpx's ASGI transport,
no sockets) against ``/__mock/health`` served the same way, the baseline
measured in the same run. Prints milliseconds per request and the ratio.

    python load/bench_inspector.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

from mockserver.settings.config import Settings
from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app

ACCOUNTS = 10
BODY = json.dumps({"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}}).encode()
HEADERS = {"x-dashscope-async": "enable"}


async def fill(emulator: Emulator, count: int) -> None:
    accounts = [emulator.authenticate(f"Bearer sk-bench-{i}") for i in range(ACCOUNTS)]
    for index in range(count):
        draft = emulator.prepare(accounts[index % ACCOUNTS], "text2image", "image-synthesis", BODY, HEADERS)
        emulator.commit(draft, await emulator.look(draft, "http://bench"), f"request-{index}")


async def timed(client: httpx.AsyncClient, path: str, repeats: int) -> float:
    """Milliseconds per GET of ``path``."""
    started = time.perf_counter()
    for _ in range(repeats):
        response = await client.get(path)
        assert response.status_code == 200, response.text
    return (time.perf_counter() - started) * 1000 / repeats


async def main(count: int) -> None:
    limits = {"*": {"submit_per_second": 10**9, "concurrency": 50}}
    accounts = [{"id": f"bench-{i}", "keys": [f"sk-bench-{i}"], "limits": limits} for i in range(ACCOUNTS)]
    emulator = Emulator(Settings(clock="manual", speed=1.0, accounts=accounts, journal_size=10_000))
    started = time.perf_counter()
    await fill(emulator, count)
    emulator.clock.advance(60 * 60)  # about half of each account's queue has run by now
    print(f"{count} tasks made in {time.perf_counter() - started:.1f} s")
    part = emulator.store.tasks()[count // 2].task_id[:8]
    transport = httpx.ASGITransport(app=create_app(emulator=emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await timed(client, "/__mock/tasks", 3)  # warm up
        baseline = await timed(client, "/__mock/health", 50)
        print(f"{'GET /__mock/health (baseline)':<48} {baseline:8.2f} ms")
        for path, repeats in [
            ("/__mock/ui/", 20),
            ("/__mock/tasks", 20),
            (f"/__mock/tasks?page={count // 100}", 20),
            ("/__mock/tasks?account=bench-3", 20),
            ("/__mock/tasks?status=RUNNING", 5),
            ("/__mock/tasks?status=PENDING&account=bench-3", 5),
            (f"/__mock/tasks?q={part}", 5),
            ("/__mock/accounts", 5),
        ]:
            took = await timed(client, path, repeats)
            print(f"GET {path:<44} {took:8.2f} ms  ratio {took / baseline:7.1f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
