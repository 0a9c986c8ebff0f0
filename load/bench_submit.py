"""Benchmark: what one submit costs in process, without a server or a client.

A wanx-v1 n=1 asynchronous submit (``bench_peers.py``'s body, account and
limits) is timed four ways on one emulator (memory store, manual clock,
unseeded, the collector frozen after start-up and at ``serve``'s thresholds, as
``dashscope-mock serve`` runs it):

- ``domain``: ``Emulator.prepare`` + ``look`` + ``commit`` + the answer's bytes;
- ``route``: the route handler :func:`mockserver.http.dashscope.submit` on a ``Request`` whose body the
  edge has read and parsed (as the fast submit path hands it on);
- ``asgi``: the whole app (edge, fast submit path, journal) on an in-memory ASGI call;
- ``wire``: the answer at the socket (:meth:`FastPath.wire`: the whole request in hand, its answer's bytes
  out), as ``dashscope-mock serve`` answers a submit that arrives in one read.

Each figure is the best of ``--repeats`` batches of ``--count`` submits, in
microseconds per submit; ``--profile`` prints cProfile's top rows of the
first of ``--ways`` instead. Wall time on a shared machine swings: read the four
against each other in one run. ``--instructions`` gives a figure immune to
neighbours: each way runs under callgrind twice, with ``--count`` submits and
with none, and the difference is divided by ``--count`` (needs valgrind).
``--collector`` runs ``--count`` wire submits (200,000 is a good figure: the
tasks pile up as a busy account's do) under CPython's default collector
thresholds and under ``serve``'s (``mockserver.cli.GC_THRESHOLDS``), each in a
process of its own, and prints the collector's time per submit and its
longest pause.

    python load/bench_submit.py [--count 2000] [--repeats 5] [--ways domain,route,asgi,wire] [--profile | --instructions]
    python load/bench_submit.py --collector --count 200000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import yaml
from bench_peers import CONFIG, KEY, SUBMIT_BODY, SUBMIT_PATH

from mockserver.cli import GC_THRESHOLDS
from mockserver.domain.emulator import Emulator
from mockserver.http import dashscope
from mockserver.http.answer import submitted_body
from mockserver.http.app import create_app
from mockserver.settings.config import Settings

HEADERS = [
    (b"host", b"127.0.0.1:8580"),
    (b"authorization", f"Bearer {KEY}".encode()),
    (b"content-type", b"application/json"),
    (b"x-dashscope-async", b"enable"),
    (b"content-length", str(len(SUBMIT_BODY)).encode()),
]
PARAMS = {"service": "aigc", "group": "text2image", "function": "image-synthesis"}


def scope() -> dict[str, Any]:
    """A submit's scope, as uvicorn builds it."""
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8580), "client": ("127.0.0.1", 40000), "scheme": "http", "method": "POST",
        "root_path": "", "path": SUBMIT_PATH, "raw_path": SUBMIT_PATH.encode(), "query_string": b"",
        "headers": HEADERS, "state": {},
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": SUBMIT_BODY.encode(), "more_body": False}


def asgi_way(app: Any) -> Callable[[], Awaitable[None]]:
    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def one() -> None:
        await app(scope(), receive, send)

    return one


def wire_way(app: Any) -> Callable[[], Awaitable[None]]:
    fastpath = app.state.fastpath
    body = SUBMIT_BODY.encode()

    async def one() -> None:
        answer = fastpath.wire(scope(), body, True)
        assert answer is not None and answer[0].startswith(b"HTTP/1.1 200 "), answer

    return one


def domain_way(emulator: Emulator) -> Callable[[], Awaitable[None]]:
    account = emulator.authenticate(f"Bearer {KEY}")
    headers = {name.decode(): value.decode() for name, value in HEADERS}
    body = SUBMIT_BODY.encode()

    async def one() -> None:
        request_id = emulator.ids.request_id()
        draft = emulator.prepare(account, "text2image", "image-synthesis", body, headers)
        looked = await emulator.look(draft, "http://127.0.0.1:8580")
        task = emulator.commit(draft, looked, request_id)
        submitted_body(request_id, task.task_id)

    return one


def route_way(app: Any, emulator: Emulator) -> Callable[[], Awaitable[None]]:
    from starlette.requests import Request

    account = emulator.authenticate(f"Bearer {KEY}")

    async def one() -> None:
        request_scope = {**scope(), "app": app, "path_params": PARAMS}
        body = SUBMIT_BODY.encode()  # as the edge leaves it: read and parsed
        request_scope["state"] = {"account": account, "request_id": emulator.ids.request_id(), "body": body,
                                  "payload": json.loads(body)}
        response = await dashscope.submit(Request(request_scope, receive))
        assert response.status_code == 200

    return one


async def timed(one: Callable[[], Awaitable[None]], count: int, repeats: int) -> float:
    """Microseconds per call: the best of ``repeats`` batches."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            await one()
        best = min(best, time.perf_counter() - start)
    return best / max(count, 1) * 1e6


def instructions(way: str, count: int) -> float:
    """Instructions per submit of one way: a callgrind run of ``count`` submits less one of none."""
    totals = []
    for submits in (0, count):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "callgrind.out"
            command = [sys.executable, __file__, "--ways", way, "--count", str(submits), "--repeats", "1"]
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
                           check=True, capture_output=True,
                           env={**os.environ, "PYTHONHASHSEED": "0"})  # str hashes move dicts' work by a few %
            totals.append(max(int(line.split()[1]) for line in out.read_text().splitlines()
                              if line.startswith(("summary:", "totals:"))))
    return (totals[1] - totals[0]) / count


def collect_as_served(thresholds: tuple[int, ...] = GC_THRESHOLDS) -> None:
    """The collector as ``serve`` sets it once started: what start-up made frozen, young objects collected every
    ``thresholds[0]`` net allocations (each submit keeps a task: the default, 700, would time collections)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def collector(count: int, thresholds: str) -> None:
    """The wire way ``count`` times with the collector at ``thresholds`` (start-up frozen, as ``serve`` does),
    timing every collection through ``gc.callbacks``."""
    app = create_app(emulator=Emulator(Settings(clock="manual", **yaml.safe_load(CONFIG))))
    one = wire_way(app)
    collect_as_served(tuple(map(int, thresholds.split(","))))
    spent, longest, started = 0.0, 0.0, [0.0]

    def timing(phase: str, info: dict[str, int]) -> None:
        nonlocal spent, longest
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            took = time.perf_counter() - started[0]
            spent, longest = spent + took, max(longest, took)

    gc.callbacks.append(timing)

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(count):
            await one()
        return time.perf_counter() - start

    took = asyncio.run(run())
    print(f"{thresholds:<14}{took / count * 1e6:>10.1f}{spent / count * 1e6:>14.2f}{longest * 1000:>12.0f}"
          f"   {[generation['collections'] for generation in gc.get_stats()]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the first way instead of timing it")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument("--ways", default="domain,route,asgi,wire", help="which of the four to run")
    parser.add_argument("--collector", action="store_true", help="the collector's cost under two thresholds instead")
    parser.add_argument("--thresholds", help=argparse.SUPPRESS)  # --collector's child process
    args = parser.parse_args()
    if args.thresholds:
        collector(args.count, args.thresholds)
        return
    if args.collector:
        print(f"# {args.count} wire submits; the collector's share (gc.callbacks); collections by generation")
        print(f"{'thresholds':<14}{'us/submit':>10}{'gc us/submit':>14}{'longest ms':>12}   collections")
        for thresholds in ("700,10,10", ",".join(map(str, GC_THRESHOLDS))):
            subprocess.run([sys.executable, __file__, "--count", str(args.count), "--thresholds", thresholds], check=True)
        return
    if args.instructions:
        print(f"# k instructions per wanx-v1 n=1 submit (callgrind: {args.count} submits less none)")
        for way in args.ways.split(","):
            print(f"{way:<8}{instructions(way, args.count) / 1000:>8.1f}", flush=True)
        return
    emulator = Emulator(Settings(clock="manual", **yaml.safe_load(CONFIG)))
    app = create_app(emulator=emulator)
    collect_as_served()
    ways = {"domain": domain_way(emulator), "route": route_way(app, emulator), "asgi": asgi_way(app),
            "wire": wire_way(app)}
    ways = {name: ways[name] for name in args.ways.split(",")}

    async def run() -> None:
        for one in ways.values():  # warm-up: the account's lane, caches
            await timed(one, 200, 1)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await timed(next(iter(ways.values())), args.count, 1)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            return
        print(f"# us per wanx-v1 n=1 submit, best of {args.repeats} x {args.count}")
        for name, one in ways.items():
            print(f"{name:<8}{await timed(one, args.count, args.repeats):>8.1f}", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
