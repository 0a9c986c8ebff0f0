"""Benchmark: what the memory store's purge costs per submit when a backlog of queued tasks builds up.

One account and one lane of 4 slots; a task submitted every 0.01 s of the
emulator's clock runs 1 s, so 100 arrive a second and 4 drain: the queue grows
(what a load test does when it submits faster than the account's concurrency
drains). Every 512 submits the store purges with a cut-off 1 s behind the
clock, as the emulator does with its retention (here shortened to 1 s so the
purge has work). The baseline in the same run: the same submits with the
tasks running 0.01 s, so nothing queues. A purge should cost what it forgets:
both figures alike, not the first growing with the backlog.

    python load/bench_purge.py [--submits 60000]
"""

from __future__ import annotations

import argparse
import time

from mockserver.lifecycle.task import Task
from mockserver.store.memory import MemoryStore


def make_task(n: int, submitted: float, run: float) -> Task:
    return Task(task_id=f"t{n}", account="a", api_key_id="1", caller_uid="2", model="m", group="g", function="f",
                request_id="r", input={}, parameters={}, image_count=1, submitted_at=submitted,
                pending_seconds=0.0, run_seconds=run)


def purge_cost(submits: int, run: float) -> tuple[float, int, int]:
    """(microseconds of purge per submit, tasks purged, tasks kept) for ``submits`` tasks of ``run`` seconds."""
    store, spent, purged = MemoryStore(), 0.0, 0
    for n in range(submits):
        now = n * 0.01
        task = make_task(n, submitted=now, run=run)
        store.lane("a", "m", 4).schedule(task, now)
        store.add_task(task)
        if n % 512 == 511:
            started = time.perf_counter()
            purged += store.purge(now - 1.0)
            spent += time.perf_counter() - started
    return spent / submits * 1e6, purged, store.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=60_000)
    args = parser.parse_args()
    print(f"# {args.submits} submits, a purge every 512; us of purge per submit")
    for label, run in (("drained (baseline)", 0.01), ("backlog", 1.0)):
        cost, purged, kept = purge_cost(args.submits, run)
        print(f"{label:<20}{cost:>8.2f} us   {purged} purged, {kept} kept")


if __name__ == "__main__":
    main()
