"""Overload: the poll route at twice its capacity, open loop, with the overload guard on and off.

1. Capacity: the emulator (pinned to one core, as ``bench_peers.py`` runs it)
   is polled closed-loop by ``wrk -t1 -c32`` on the other core: its req/s.
2. Overload: an open-loop generator (this script, uvloop, pinned to the other
   core) sends polls at twice that rate for ``--duration`` seconds, each at its
   own scheduled time whatever the answers do: a new connection when none is
   free (up to ``--max-conns``), then a client-side queue. A poll unanswered 5 s
   after its scheduled time counts as a timeout.
3. Reported per setting (``max_in_flight`` 0 = no guard, and the default):
   goodput (200s within 5 s, per second) against the capacity, 429s, 5xx,
   timeouts, p50/p99 latency of the 200s, the server's memory at the start and
   the end, and the generator's own CPU use (near 100%: the generator, not the
   server, was the limit).

    python load/overload.py [--duration 30] [--guards 0,256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_peers import KEY, Server, prepare, wait_up, wrk  # noqa: E402 - the same set-up as the peer benchmark

TIMEOUT = 5.0
_LENGTH = re.compile(rb"content-length: *(\d+)", re.I)


class Stats:
    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.ok_latencies: list[float] = []
        self.timeouts = 0
        self.errors = 0  # connections that broke


class Poller(asyncio.Protocol):
    """One keep-alive connection with at most one poll outstanding."""

    def __init__(self, load: "OpenLoop") -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.scheduled: float | None = None  # the outstanding poll's scheduled time

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.load.ready(self)

    def send(self, scheduled: float) -> None:
        self.scheduled = scheduled
        assert self.transport is not None
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        match = _LENGTH.search(self.buffer, 0, end)
        size = int(match.group(1)) if match else 0
        if len(self.buffer) < end + 4 + size:
            return
        status = int(self.buffer[9:12])
        self.buffer = self.buffer[end + 4 + size :]
        scheduled, self.scheduled = self.scheduled, None
        if scheduled is not None:
            self.load.answered(status, time.monotonic() - scheduled)
        self.load.ready(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class OpenLoop:
    def __init__(self, host: str, port: int, path: str, rate: float, duration: float, max_conns: int) -> None:
        self.host, self.port, self.rate, self.duration, self.max_conns = host, port, rate, duration, max_conns
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n\r\n").encode()
        self.idle: list[Poller] = []
        self.busy: set[Poller] = set()
        self.queue: list[float] = []  # scheduled times of polls waiting for a connection
        self.connections = self.opening = 0
        self.stats = Stats()
        self.sent = 0

    def ready(self, poller: Poller) -> None:
        self.busy.discard(poller)
        if self.queue:
            self.busy.add(poller)
            poller.send(self.queue.pop(0))
        else:
            self.idle.append(poller)

    def answered(self, status: int, latency: float) -> None:
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        if latency > TIMEOUT:
            self.stats.timeouts += 1
        elif status == 200:
            self.stats.ok_latencies.append(latency)

    def lost(self, poller: Poller) -> None:
        self.connections -= 1
        if poller in self.busy:
            self.busy.discard(poller)
            if poller.scheduled is not None:
                self.stats.errors += 1
        if poller in self.idle:
            self.idle.remove(poller)

    def dispatch(self, scheduled: float) -> None:
        if self.idle:
            poller = self.idle.pop()
            self.busy.add(poller)
            poller.send(scheduled)
            return
        self.queue.append(scheduled)
        if self.connections + self.opening < self.max_conns:
            self.opening += 1
            asyncio.ensure_future(self._open())

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: Poller(self), self.host, self.port)
            self.connections += 1
        except OSError:
            self.stats.errors += 1
        finally:
            self.opening -= 1

    def sweep(self, now: float) -> None:
        """Give up on polls 5 s past their scheduled time (the client's timeout)."""
        while self.queue and now - self.queue[0] > TIMEOUT:
            self.queue.pop(0)
            self.stats.timeouts += 1
        for poller in list(self.busy):
            if poller.scheduled is not None and now - poller.scheduled > TIMEOUT:
                poller.scheduled = None
                self.stats.timeouts += 1
                self.busy.discard(poller)
                assert poller.transport is not None
                poller.transport.abort()

    async def run(self) -> None:
        start = time.monotonic()
        while True:
            now = time.monotonic()
            if now - start >= self.duration:
                break
            due = int((now - start) * self.rate)
            while self.sent < due:
                self.dispatch(start + self.sent / self.rate)
                self.sent += 1
            self.sweep(now)
            await asyncio.sleep(0.001)
        deadline = time.monotonic() + TIMEOUT + 1  # let the last polls finish or time out
        while (self.busy or self.queue) and time.monotonic() < deadline:
            self.sweep(time.monotonic())
            await asyncio.sleep(0.01)
        self.sweep(time.monotonic() + TIMEOUT + 1)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def overload(server: Server, path: str, rate: float, args: argparse.Namespace) -> dict:
    import uvloop

    load = OpenLoop("127.0.0.1", server.port, path, rate, args.duration, args.max_conns)
    before = rss_mib(server.process.pid)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    uvloop.run(load.run())
    elapsed = time.monotonic() - started
    used = resource.getrusage(resource.RUSAGE_SELF)
    stats = load.stats
    ok = len(stats.ok_latencies)
    latencies = sorted(stats.ok_latencies)
    return {
        "sent": load.sent, "goodput": ok / args.duration, "s429": stats.statuses.get(429, 0),
        "s5xx": sum(n for s, n in stats.statuses.items() if s >= 500), "timeouts": stats.timeouts, "errors": stats.errors,
        "p50": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "rss": (before, rss_mib(server.process.pid)),
        "gen_cpu": 100 * (used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--guards", default="0,256", help="max_in_flight settings to compare (0: no guard)")
    parser.add_argument("--max-conns", type=int, default=1024)
    parser.add_argument("--srv-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.gen_cpu})
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per connection
    args.conns, args.runs = 32, 3
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        paths = prepare(scratch)
        config = yaml.safe_load((scratch / "bench.yaml").read_text())
        rows = []
        for guard in (int(value) for value in args.guards.split(",")):
            (scratch / f"guard{guard}.yaml").write_text(yaml.safe_dump({**config, "max_in_flight": guard}))
            command = ["dashscope-mock", "serve", "--port", "$PORT", "--clock", "manual", "--config", f"guard{guard}.yaml",
                       "--state", "state.json", "--log-level", "warning"]
            server = Server(f"max_in_flight={guard}", command, scratch, args)
            try:
                wait_up(server.base + "/", server.process)
                url = server.base + paths["poll"]
                extra = ["-H", f"Authorization: Bearer {KEY}"]
                wrk(url, args, 3, extra)
                capacity = statistics.median(wrk(url, args, 10, extra)[0] for _ in range(args.runs))
                print(f"# {server.name}: capacity {capacity:.0f} req/s (wrk -c32, median of 3 x 10 s); "
                      f"open loop at {2 * capacity:.0f}/s for {args.duration:g} s", file=sys.stderr, flush=True)
                result = overload(server, paths["poll"], 2 * capacity, args)
            finally:
                server.stop()
            rows.append((server.name, capacity, result))
    print(f"# poll route, open loop at 2x capacity for {args.duration:g} s; timeout {TIMEOUT:g} s; server on CPU "
          f"{args.srv_cpu}, generator on CPU {args.gen_cpu}")
    print(f"{'setting':<18}{'capacity':>9}{'sent/s':>8}{'goodput':>9}{'of cap':>7}{'429s':>8}{'5xx':>5}{'timeouts':>9}"
          f"{'errors':>7}{'p50_ms':>8}{'p99_ms':>8}{'rss_MiB':>14}{'genCPU%':>8}")
    for name, capacity, r in rows:
        print(f"{name:<18}{capacity:>9.0f}{r['sent'] / args.duration:>8.0f}{r['goodput']:>9.0f}"
              f"{r['goodput'] / capacity:>7.2f}{r['s429']:>8}{r['s5xx']:>5}{r['timeouts']:>9}{r['errors']:>7}"
              f"{r['p50']:>8.1f}{r['p99']:>8.1f}{r['rss'][0]:>7.0f}>{r['rss'][1]:<6.0f}{r['gen_cpu']:>8.0f}")


if __name__ == "__main__":
    main()
