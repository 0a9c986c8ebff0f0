"""Benchmark: what one store call costs, per store (memory, SQLite, Redis), against the in-memory store in the same run.

The calls of the hot paths: ``get_task`` (a poll's look-up), ``hit`` (every
request's rate check) and one submit's unit of work (the lane, the account's
usage and the task, in a transaction, as ``Emulator.commit`` does), with one
Redis round trip (a PING) for scale. SQLite writes a new file in a temporary
folder (WAL, ``synchronous=NORMAL``, as ``--store sqlite:///path`` opens it). Redis runs
on loopback: a ``redis-server`` started here on a free port (as the tests do),
or the one of ``--redis URL`` (its ``dsmock:`` keys are reset).

Run: ``python load/bench_stores.py [--calls 5000] [--redis redis://127.0.0.1:6379/0]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent.parent))
from redis_server import redis_server  # noqa: E402
from test_lanes import make_task  # noqa: E402

from mockserver.store import MemoryStore, Store, open_store  # noqa: E402

ROUNDS = 3  # the best of: the machine is shared


def submit(store: Store, n: int) -> None:
    """One submit's unit of work."""
    task = make_task(n, submitted=float(n))
    with store.transaction():
        lane = store.lane(task.account, task.model, 2)
        lane.schedule(task, task.submitted_at)
        store.save_lane(task.account, task.model, lane)
        state = store.account_state(task.account)
        state.used[task.model] = state.used.get(task.model, 0) + 1
        store.save_account_state(task.account, state)
        store.add_task(task)


def per_call(calls: int, call: Callable[[int], object]) -> float:
    """Microseconds per call, the best of ROUNDS rounds."""
    best = float("inf")
    for round_ in range(ROUNDS):
        start = time.perf_counter()
        for n in range(calls):
            call(round_ * calls + n)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def measure(store: Store, calls: int) -> dict[str, float]:
    figures = {"submit": per_call(calls, lambda n: submit(store, n))}
    held = store.count()
    figures["get_task"] = per_call(calls, lambda n: store.get_task(f"t{n % held}"))
    figures["hit"] = per_call(calls, lambda n: store.hit("a|query", 1_000_000, 1.0, now=float(n // 1000)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--redis", help="a running server's URL (default: start redis-server on a free port)")
    options = parser.parse_args()
    with ExitStack() as stack:
        url = options.redis or stack.enter_context(redis_server())
        from mockserver.store.redis import RedisStore

        redis_store = RedisStore(url)
        stack.callback(redis_store.close)
        redis_store.reset()
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        sqlite_store = open_store(f"sqlite://{folder}/bench.db")
        stack.callback(sqlite_store.close)
        stores: dict[str, Store] = {"memory": MemoryStore(), "sqlite": sqlite_store, "redis": redis_store}
        results = {name: measure(store, options.calls) for name, store in stores.items()}
        ping = per_call(options.calls, lambda n: redis_store._redis.ping())
        redis_store.reset()
    base = results["memory"]
    print(f"{options.calls} calls per round, best of {ROUNDS}; microseconds per call (x memory)")
    print(f"{'store':<8}" + "".join(f"{op:>22}" for op in base))
    for name, figures in results.items():
        cells = "".join(f"{f'{value:.1f} us ({value / base[op]:.0f}x)':>22}" for op, value in figures.items())
        print(f"{name:<8}{cells}")
    print(f"one loopback round trip to redis-server (PING): {ping:.1f} us")


if __name__ == "__main__":
    main()
