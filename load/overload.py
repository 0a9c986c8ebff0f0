"""Overload: the poll route at twice its capacity, open loop, with the overload guard on and off.

1. Capacity: the emulator (pinned to one core, as ``bench_peers.py`` runs it)
   is polled closed-loop by ``wrk -t1 -c32`` on the other core: the median
   req/s of ``--runs`` runs of 10 s. The same wrk against a server whose guard
   refuses everything (``max_in_flight: 1``) gives what refusals a second the
   server can answer: their cost against a poll's (``refusal/poll``).
2. Overload: ``openloop`` (``load/openloop.c``, compiled here with gcc, pinned to
   the other core) sends polls at twice that capacity for ``--duration``
   seconds, each at its own due time whatever the answers do, over a pool of
   ``--conns`` keep-alive connections; a poll waits in the generator's queue
   when every connection is busy, and its latency counts from its due time. A
   poll unanswered 5 s after its due time is a timeout.
3. Reported per setting (``max_in_flight`` 0 = no guard, and the default):
   goodput (200s within 5 s, a second) against the capacity, 429s, 5xx,
   timeouts, broken connections, p50/p99 latency of the 200s, the server's
   memory before and after, and the generator's own lag (p99 of how late it
   sent polls that had a free connection: near zero means the generator kept
   its schedule and the server was the limit).

    python load/overload.py [--duration 30] [--guards 0,256] [--runs 3]

Needs wrk, gcc and taskset (``apt-get install wrk gcc util-linux``); Linux only.
Nothing is downloaded: the generator is compiled from the source beside this script.

What it shows, and why (the table and its reading are in docs/load-testing.md,
"Overload"). Measured 2026-12-01 on the shared 2-core machine, busy (load 4-9),
``python load/overload.py --duration 30``::

    setting            capacity refusal/poll  sent/s goodput of cap    429s  5xx timeouts broken  p50_ms  p99_ms   rss_MiB genlag99
    max_in_flight=0        9091         0.56   14974    9651   1.06       0    0   255924      0  4565.1  4994.7   73>97        6.7
    max_in_flight=256     14711         0.90   15574    3825   0.26  316065    0   451837      0  1998.4  4853.1   74>81        5.1

The generator kept its schedule (genlag99: its own lag, p99, ms), so the server
was the limit. Without the guard every poll is served late (p50 4.6 s, most
past 5 s) and memory grows; with it memory stays flat and the polls past the
limit get 429 ``Throttling`` at once, but the target (goodput >= 90% of
capacity, no timeouts) is not met: at twice capacity a refusal costing a share
x of a poll leaves at most (1 - 2x) / (1 - x) of capacity for goodput, and 90%
needs x < 0.09. A refusal here is written to the socket before the HTTP parser
runs (no ASGI task, no journal entry), yet reading a request and writing any
answer costs a Python server about half a fast-path poll or more
(``refusal/poll``, noisy on a busy machine). The guard pays off where an answer
costs far more than a refusal: renders of result images, submits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_peers import KEY, Server, cpu_ticks, prepare, wait_up, wrk  # noqa: E402 - the peer benchmark's set-up

TIMEOUT = 5.0
SOURCE = Path(__file__).with_name("openloop.c")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def compile_generator(scratch: Path) -> Path:
    binary = scratch / "openloop"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(SOURCE)], check=True)
    return binary


def start(name: str, guard: int, scratch: Path, config: dict, args: argparse.Namespace) -> Server:
    (scratch / f"{name}.yaml").write_text(yaml.safe_dump({**config, "max_in_flight": guard}))
    command = ["dashscope-mock", "serve", "--port", "$PORT", "--clock", "manual", "--config", f"{name}.yaml",
               "--state", "state.json", "--log-level", "warning"]
    server = Server(name, command, scratch, args)
    wait_up(server.base + "/__mock/health", server.process)
    return server


def capacity(server: Server, path: str, args: argparse.Namespace) -> float:
    url, extra = server.base + path, ["-H", f"Authorization: Bearer {KEY}"]
    wrk(url, args, 3, extra)  # warm-up
    return statistics.median(wrk(url, args, 10, extra)[0] for _ in range(args.runs))


def open_loop(binary: Path, server: Server, path: str, rate: float, args: argparse.Namespace) -> dict:
    before, ticks = rss_mib(server.process.pid), cpu_ticks(server.process.pid)
    command = ["taskset", "-c", str(args.gen_cpu), str(binary), "127.0.0.1", str(server.port), path,
               f"Authorization: Bearer {KEY}", f"{rate:.0f}", f"{args.duration:g}", str(args.gen_conns), f"{TIMEOUT:g}"]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    result["rss"] = (before, rss_mib(server.process.pid))
    result["srv_cpu"] = 100 * (cpu_ticks(server.process.pid) - ticks) / os.sysconf("SC_CLK_TCK") / (args.duration + 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--guards", default="0,256", help="max_in_flight settings to compare (0: no guard)")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs of 10 s for each capacity (the median)")
    parser.add_argument("--conns", dest="gen_conns", type=int, default=512,
                        help="the generator's connections (the server's cap is 1000)")
    parser.add_argument("--srv-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    args = parser.parse_args()
    for tool, package in (("wrk", "wrk"), ("gcc", "gcc"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install {package}")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the generator inherits it: one descriptor a connection
    args.conns = 32  # wrk's connections (bench_peers.wrk reads it)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        binary = compile_generator(scratch)
        paths = prepare(scratch)
        config = yaml.safe_load((scratch / "bench.yaml").read_text())
        poll = paths["poll"]
        server = start("refuse-all", 1, scratch, config, args)
        try:
            refusals = capacity(server, poll, args)
        finally:
            server.stop()
        rows = []
        for guard in (int(value) for value in args.guards.split(",")):
            server = start(f"max_in_flight={guard}", guard, scratch, config, args)
            try:
                polls = capacity(server, poll, args)
                print(f"# {server.name}: capacity {polls:.0f} polls/s (wrk -c32, median of {args.runs} x 10 s), "
                      f"refusals {refusals:.0f}/s; open loop at {2 * polls:.0f}/s for {args.duration:g} s",
                      file=sys.stderr, flush=True)
                rows.append((server.name, polls, open_loop(binary, server, poll, 2 * polls, args)))
            finally:
                server.stop()
    print(f"# poll route, open loop at 2x capacity for {args.duration:g} s over {args.gen_conns} connections; timeout "
          f"{TIMEOUT:g} s; server on CPU {args.srv_cpu}, generator (load/openloop.c) on CPU {args.gen_cpu}")
    print(f"# refusals the server answers a second (wrk -c32, max_in_flight 1): {refusals:.0f}")
    print(f"{'setting':<18}{'capacity':>9}{'refusal/poll':>13}{'sent/s':>8}{'goodput':>8}{'of cap':>7}{'429s':>8}"
          f"{'5xx':>5}{'timeouts':>9}{'broken':>7}{'p50_ms':>8}{'p99_ms':>8}{'rss_MiB':>10}{'genlag99':>9}")
    for name, polls, r in rows:
        goodput = r["ok"] / args.duration
        print(f"{name:<18}{polls:>9.0f}{polls / refusals:>13.2f}{r['sent'] / args.duration:>8.0f}{goodput:>8.0f}"
              f"{goodput / polls:>7.2f}{r['s429']:>8}{r['s5xx']:>5}{r['timeouts']:>9}{r['broken']:>7}{r['p50_ms']:>8.1f}"
              f"{r['p99_ms']:>8.1f}{r['rss'][0]:>5.0f}>{r['rss'][1]:<4.0f}{r['lag_p99_ms']:>9.1f}")


if __name__ == "__main__":
    main()
