"""Memory per retained task: what a 24-hour window of a busy account costs.

Submits N wanx-v1 n=4 tasks (the captured body: a prompt, ``n``, a size)
through the emulator's own submit path, in process, and divides the memory
the Python allocator holds afterwards (tracemalloc) by N: the task, its plan,
its entries in the store and its lane. The target is at most 1 KiB a task,
so a million tasks stay under 1 GiB. Prints the figure and the verdict.

    python load/bench_task_memory.py [N]
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tracemalloc

from mockserver.settings.config import Settings
from mockserver.domain.emulator import Emulator

TARGET = 1024
BODY = json.dumps({"model": "wanx-v1", "input": {"prompt": "a cat on a sofa, watercolour"},
                   "parameters": {"n": 4, "size": "1024*1024", "style": "<watercolor>"}}).encode()
HEADERS = {"authorization": "Bearer sk-memory", "x-dashscope-async": "enable"}


def submit_many(emulator: Emulator, count: int) -> None:
    account = emulator.authenticate(HEADERS["authorization"])
    for _ in range(count):
        request_id = emulator.ids.request_id()
        draft = emulator.prepare(account, "text2image", "image-synthesis", BODY, HEADERS)
        looked = asyncio.run(emulator.look(draft, "http://127.0.0.1:8580"))
        emulator.commit(draft, looked, request_id)


def main(count: int) -> None:
    settings = Settings(clock="manual", journal_size=0, accounts=[
        {"id": "busy", "keys": ["sk-memory"], "limits": {"*": {"submit_per_second": 10**9, "concurrency": 100}}}])
    emulator = Emulator(settings)
    submit_many(emulator, 100)  # warm up: caches, interned strings, the lane
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    submit_many(emulator, count)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert emulator.store.count() == count + 100
    per_task = (after - before) / count
    verdict = "within" if per_task <= TARGET else "OVER"
    print(f"{count} wanx-v1 n=4 tasks retained: {per_task:,.0f} bytes per task ({verdict} the {TARGET}-byte target); "
          f"1M tasks: {per_task * 1e6 / 2**30:.2f} GiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
