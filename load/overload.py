"""Overload: the poll route and result downloads at twice their capacity, open loop, with the guard off and on.

1. Capacity: the emulator (pinned to one core, as ``bench_peers.py`` runs it)
   is driven closed-loop by ``wrk -t1 -c32`` on the other core: the median
   req/s of ``--runs`` runs of 10 s. Routes: ``poll`` (``GET /api/v1/tasks/{id}``
   of a RUNNING task, the fast path) and ``download`` (a result image with the
   image cache off, ``image_cache_mb: 0``: every download renders a 1024x1024
   placeholder, the emulator's dearest answer). The same wrk against a server
   whose guard refuses every poll (``max_in_flight: 1``) gives the refusals it
   answers a second: a refusal's cost against a poll's. Capacities are
   measured with the guard off (wrk counts refusals as answers).
2. Overload: ``openloop`` (``load/openloop.c``, compiled here with gcc, pinned to
   the other core) sends requests at twice that capacity, to a server with the
   guard off and then to one with it on, for ``--duration``
   seconds, each at its own due time whatever the answers do, over a pool of
   ``--conns`` keep-alive connections; a request waits in the generator's queue
   when every connection is busy, and its latency counts from its due time. A
   request unanswered 5 s after its due time is a timeout.
3. Reported per route and setting (guard off: ``max_in_flight: 0`` and, for
   downloads, ``max_renders_in_flight: 0``; guard on: the defaults, 256 and 8):
   goodput (200s within 5 s, a second) against the capacity, the refusals
   (429 ``Throttling`` for polls, OSS's 503 ``ActiveRequestLimitExceeded`` for
   downloads), other 5xx, timeouts, connections broken mid-answer, requests
   sent again after a kept-alive connection closed under them, p50/p99 latency
   of the 200s, the server's memory before and after, and the generator's own
   lag (p99 of how late it sent requests that had a free connection: small
   means the generator kept its schedule and the server was the limit).

    python load/overload.py [--duration 30] [--routes poll,download] [--runs 3]

Needs wrk, gcc and taskset (``apt-get install wrk gcc util-linux``); Linux only.
Nothing is downloaded: the generator is compiled from the source beside this script.

What it shows, and why (the table and its reading are in docs/load-testing.md,
"Overload"). Measured 2026-12-02 on the shared 2-core machine, neighbours'
test suites running (load average 8-11), ``python load/overload.py --duration 30``::

    route    setting    capacity  sent/s goodput of cap refused  5xx timeouts broken resent  p50_ms  p99_ms   rss_MiB genlag99
    poll     guard off      8500   10646  4960.6   0.58       0    0   361213      0      0  3156.3  4997.1   72>93        4.5
    poll     guard on       8500   17001  6300.3   0.74  321021    0        0      0      0   126.2  1827.3   70>78        5.8
    download guard off        34      68    20.1   0.59       0    0     1436      0      1  1227.7  3821.8  236>268      18.8
    download guard on         34      68    32.6   0.96    1061    0        0      0      0   169.2  1299.2  106>110      20.8

Without the guard every request is served late and most time out. With it,
downloads meet the target (goodput >= 90% of capacity, no 5xx but the OSS
refusals, no timeouts, memory flat); polls get no timeouts and no 5xx, but
goodput stays below 90%: at twice capacity a refusal costing a share x of a poll
leaves at most (1 - 2x) / (1 - x) of capacity, 90% needs x < 0.09, and here
0.74 + 1.26 x = 1 gives x ~ 0.2 although a refusal is written before the HTTP
parser runs. Figures move with the neighbours' load (earlier runs the same
evening: poll goodput 0.14-0.56 with the guard), the shape does not.
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


def start(name: str, settings: dict, scratch: Path, config: dict, args: argparse.Namespace) -> Server:
    (scratch / f"{name}.yaml").write_text(yaml.safe_dump({**config, **settings}))
    command = ["dashscope-mock", "serve", "--port", "$PORT", "--clock", "manual", "--config", f"{name}.yaml",
               "--state", "state.json", "--log-level", "warning"]
    server = Server(name, command, scratch, args)
    wait_up(server.base + "/__mock/health", server.process)
    return server


def capacity(server: Server, path: str, args: argparse.Namespace) -> float:
    url, extra = server.base + path, ["-H", f"Authorization: Bearer {KEY}"]
    wrk(url, args, 3, extra)  # warm-up
    return statistics.median(wrk(url, args, 10, extra)[0] for _ in range(args.runs))


def refusal_rate(path: str, scratch: Path, config: dict, args: argparse.Namespace) -> float:
    """Refusals a second, from a server whose guard refuses every poll (``max_in_flight: 1``)."""
    server = start("refuse-all", {"max_in_flight": 1}, scratch, config, args)
    try:
        return capacity(server, path, args)
    finally:
        server.stop()


def open_loop(binary: Path, server: Server, path: str, rate: float, args: argparse.Namespace) -> dict:
    before, ticks = rss_mib(server.process.pid), cpu_ticks(server.process.pid)
    command = ["taskset", "-c", str(args.gen_cpu), str(binary), "127.0.0.1", str(server.port), path,
               f"Authorization: Bearer {KEY}", f"{rate:.0f}", f"{args.duration:g}", str(args.gen_conns), f"{TIMEOUT:g}"]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    result["rss"] = (before, rss_mib(server.process.pid))
    result["srv_cpu"] = 100 * (cpu_ticks(server.process.pid) - ticks) / os.sysconf("SC_CLK_TCK") / (args.duration + 1)
    return result


# Per route: the guard off, then on (the defaults). Downloads with the image cache off: every one renders.
SETTINGS = {
    "poll": {"guard off": {"max_in_flight": 0}, "guard on": {}},
    "download": {"guard off": {"max_in_flight": 0, "max_renders_in_flight": 0, "image_cache_mb": 0},
                 "guard on": {"image_cache_mb": 0}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--routes", default="poll,download", help="poll (GET /api/v1/tasks/{id}), download (a render)")
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
    routes = args.routes.split(",")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        binary = compile_generator(scratch)
        paths = prepare(scratch)
        paths["download"] = paths["image"]
        config = yaml.safe_load((scratch / "bench.yaml").read_text())
        refusals = float("nan")
        rows = []
        for route in routes:
            served = float("nan")
            for name, settings in SETTINGS[route].items():
                server = start(f"{route}-{name.replace(' ', '-')}", settings, scratch, config, args)
                try:
                    if name == "guard off":  # the route's capacity, on a server that refuses nothing
                        served = capacity(server, paths[route], args)
                        if route == "poll":  # and the refusals' right after, so neighbours' load weighs on both alike
                            refusals = refusal_rate(paths["poll"], scratch, config, args)
                        print(f"# {route}: capacity {served:.0f}/s (wrk -c32, median of {args.runs} x 10 s); open loop "
                              f"at {2 * served:.0f}/s for {args.duration:g} s", file=sys.stderr, flush=True)
                    else:  # the same warm-up as the capacity's (first renders grow memory once), nothing measured
                        wrk(server.base + paths[route], args, 3, ["-H", f"Authorization: Bearer {KEY}"])
                    rows.append((route, name, served, open_loop(binary, server, paths[route], 2 * served, args)))
                finally:
                    server.stop()
    print(f"# open loop at 2x capacity for {args.duration:g} s over {args.gen_conns} connections; timeout {TIMEOUT:g} s; "
          f"server on CPU {args.srv_cpu}, generator (load/openloop.c) on CPU {args.gen_cpu}")
    print(f"# poll refusals the server answers a second (wrk -c32, max_in_flight 1): {refusals:.0f}; refused: 429 "
          f"Throttling (poll), 503 ActiveRequestLimitExceeded (download); 5xx: other 5xx")
    print(f"{'route':<9}{'setting':<10}{'capacity':>9}{'sent/s':>8}{'goodput':>8}{'of cap':>7}{'refused':>8}{'5xx':>5}"
          f"{'timeouts':>9}{'broken':>7}{'resent':>7}{'p50_ms':>8}{'p99_ms':>8}{'rss_MiB':>10}{'genlag99':>9}")
    for route, name, served, r in rows:
        goodput = r["ok"] / args.duration
        refused = r["s429"] if route == "poll" else r["s503"]
        other_5xx = r["s5xx"] - (r["s503"] if route == "download" else 0)
        print(f"{route:<9}{name:<10}{served:>9.0f}{r['sent'] / args.duration:>8.0f}{goodput:>8.1f}{goodput / served:>7.2f}"
              f"{refused:>8}{other_5xx:>5}{r['timeouts']:>9}{r['broken']:>7}{r.get('resent', 0):>7}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}"
              f"{r['rss'][0]:>5.0f}>{r['rss'][1]:<4.0f}{r['lag_p99_ms']:>9.1f}")
    if "poll" in routes:
        polls = next(served for route, name, served, _ in rows if route == "poll")
        print(f"# a poll refusal costs {polls / refusals:.2f} of a poll (capacity / refusals a second)")


if __name__ == "__main__":
    main()
