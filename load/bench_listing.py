"""Benchmark: what one task-list call (``GET /api/v1/tasks``) costs on a busy account, per store.

An account is filled straight through the store (no HTTP) with tasks spread over the last 24 hours of
the emulator's clock: several models and API keys, some canceled, some failed, some synchronous calls,
a few submitted in the same millisecond, some expired (UNKNOWN). Then ``Emulator.list_tasks`` answers
the first page, a filtered page (``status`` and ``model_name``), and a late page; each figure is the
best of a few calls. The baseline, measured in the same run on the same store and query, is how the list
was answered before stores selected the page (every task of the window decoded and made a row, sorted,
sliced: ``reference`` in tests/test_listing_pages.py, which checks both answer alike); the ratio is the
speed-up. The first page of an account of 1,000 tasks is printed for scale.

Run: ``python load/bench_listing.py [--tasks 100000 1000000] [--stored 100000] [--redis URL]``
(memory for every ``--tasks``; SQLite, and Redis when ``redis-server`` is installed or ``--redis`` is
given, for ``--stored``; ``--stored 0`` skips them).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent.parent))
from redis_server import redis_server  # noqa: E402
from test_listing_pages import reference  # noqa: E402

from mockserver.domain.emulator import Emulator  # noqa: E402
from mockserver.lifecycle.task import Outcome, Task  # noqa: E402
from mockserver.settings.config import Settings  # noqa: E402
from mockserver.store import Store, open_store  # noqa: E402

ROUNDS = 3  # the best of: the machine is shared
SMALL = 1000  # a small account's tasks, for scale
NOW = 1_800_000_000.0
DAY = 24 * 3600.0
MODELS = ("wanx-v1", "wanx2.1-t2i-turbo", "wanx2.1-t2i-plus", "flux-schnell")
FAILED = Outcome("InternalError", "failed")


def made(n: int, count: int, account: str) -> Task:
    """The n-th of ``count`` tasks: submitted over the last 25 hours (the first hour's have expired)."""
    submitted = NOW - 25 * 3600 + 25 * 3600 * n / count
    if n % 7 == 3:
        submitted = round(submitted, 2)  # some land in the same millisecond as a neighbour
    task = Task(
        task_id=f"{account}-{n:09d}", account=account, api_key_id=str(n % 3), caller_uid="2", model=MODELS[n % len(MODELS)],
        group="text2image", function="image-synthesis", request_id=f"r{n}", input={"prompt": "a cat " * 10},
        parameters={"n": 4, "size": "1024*1024"}, image_count=4, submitted_at=submitted, pending_seconds=0.0,
        run_seconds=30.0, scheduled_at=submitted + 5 * (n % 2), ended_at=submitted + 40 + 2000 * (n % 5 == 0),
    )
    if n % 11 == 0:
        task.canceled_at = submitted + 1
    if n % 13 == 0:
        task.failure = FAILED
    task.call = n % 17 == 0
    return task


def fill(store: Store, count: int, account: str) -> None:
    batch = 10_000
    for start in range(0, count, batch):
        tasks = [made(n, count, account) for n in range(start, min(count, start + batch))]
        redis = getattr(store, "_redis", None)
        if redis is not None:  # pipelined, as a snapshot's restore does
            with redis.pipeline(transaction=False) as pipe:
                for task in tasks:
                    store.add_task(task, client=pipe)  # type: ignore[call-arg]
                pipe.execute()
            continue
        with store.transaction():
            for task in tasks:
                store.add_task(task)


def best_ms(call: Callable[[], object], rounds: int = ROUNDS) -> float:
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(label: str, store: Store, count: int) -> None:
    emulator = Emulator(Settings(clock="manual", clock_start=NOW, requests_per_second=10**9), store=store)
    account, small = emulator.authenticate("Bearer sk-bench"), emulator.authenticate("Bearer sk-small")
    started = time.perf_counter()
    fill(store, count, account.id)
    fill(store, SMALL, small.id)
    print(f"{label}: {count} tasks filled in {time.perf_counter() - started:.1f} s")
    small_ms = best_ms(lambda: emulator.list_tasks(small, {}), 5)
    print(f"  {f'first page of {SMALL} tasks':<36} {small_ms:10.2f} ms")
    first = emulator.list_tasks(account, {})
    late = max(1, first["total_page"] - 1)
    retention = emulator.settings.retention_hours * 3600
    for name, query in [
        ("first page", {}),
        ("filtered page", {"status": "SUCCEEDED", "model_name": "wanx-v1", "page_size": "100"}),
        (f"late page ({late})", {"page_no": str(late)}),
    ]:
        answers = []
        took = best_ms(lambda: answers.append(emulator.list_tasks(account, query)))
        before = best_ms(lambda: answers.append(reference(store, query, NOW, retention, account.id)), 1)
        assert answers[0]["data"] == answers[-1]["data"] and answers[0]["total"] == answers[-1]["total"]
        print(f"  {name:<36} {took:10.1f} ms  every row built {before:8.1f} ms  speed-up {before / took:6.1f}x"
              f"  (total {answers[-1]['total']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stored", type=int, default=100_000, help="tasks for SQLite and Redis (0: skip them)")
    parser.add_argument("--redis", help="a running server's URL (default: start redis-server on a free port)")
    options = parser.parse_args()
    for count in options.tasks:
        measure("memory", open_store("memory"), count)
    if not options.stored:
        return
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        sqlite = open_store(f"sqlite://{folder}/bench.db", alone=True)
        stack.callback(sqlite.close)
        measure("sqlite", sqlite, options.stored)
        if options.redis or shutil.which("redis-server"):
            url = options.redis or stack.enter_context(redis_server())
            redis = open_store(url)
            stack.callback(redis.close)
            redis.reset()
            measure("redis", redis, options.stored)
        else:
            print("redis: skipped (no redis-server; --redis URL to use a running one)")


if __name__ == "__main__":
    main()
