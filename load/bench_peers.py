"""Benchmark: the emulator against a bare Starlette route, with wrk, the way ``shared/bench/peers.sh`` does it.

Each server is pinned to one core (``taskset``), ``wrk -t1 -c32`` to the other;
after a warm-up, the median of ``--runs`` runs of ``--duration`` seconds is
taken, with the p99 latency and the server's CPU use during the runs (well
under 100% means the load generator, not the server, was the limit). Every
figure is a ratio to the bare Starlette route measured in the same run, on the
same route: absolute numbers change from machine to machine, ratios carry over.

Routes: ``poll`` (``GET /api/v1/tasks/{id}`` of a RUNNING wanx-v1 n=4 task: the
272-byte answer of peers.sh), ``image`` (a cached result PNG), ``submit`` (a
wanx-v1 submit). The bare app answers each with fixed bytes of the same size.
The emulator runs as users start it (``dashscope-mock serve``, from the state
snapshot of one task, limits raised so nothing is throttled), once with its
default log level (a log line per request) and once with ``--log-level warning``.

    python load/bench_peers.py [--runs 3] [--duration 10] [--routes poll,image,submit] [--stores]

``--stores`` adds the emulator over SQLite (one worker and two) and over Redis
(a throwaway ``redis-server`` on loopback, when it is installed): issue 13's
rows, read against ``ours`` (the memory store) in the same run.

Needs wrk (``apt-get install wrk``) and taskset; Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

KEY = "sk-bench"
CONFIG = f"""\
accounts:
  - id: bench
    keys: [{KEY}]
    limits: {{"*": {{submit_per_second: 100000000, concurrency: 64}}}}
    requests_per_second: 100000000
"""
SUBMIT_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
SUBMIT_BODY = '{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":1}}'
BARE_APP = textwrap.dedent(
    """
    import os
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    here = os.path.dirname(__file__)
    POLL = open(os.path.join(here, "poll.body"), "rb").read()
    SUBMIT = open(os.path.join(here, "submit.body"), "rb").read()
    IMAGE = open(os.path.join(here, "image.body"), "rb").read()

    async def poll(request):
        return Response(POLL, media_type="application/json")

    async def submit(request):
        await request.body()
        return Response(SUBMIT, media_type="application/json")

    async def image(request):
        return Response(IMAGE, media_type="image/png")

    app = Starlette(routes=[
        Route("/api/v1/tasks/{task_id}", poll, methods=["GET"]),
        Route("/api/v1/services/aigc/{group}/{function}", submit, methods=["POST"]),
        Route("/{bucket}/{key:path}", image, methods=["GET"]),  # either result bucket
    ])
    """
)


BARE_ARGS = ["-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port", "$PORT", "--workers", "1",
             "--no-access-log", "--log-level", "warning"]  # python's arguments for the bare app


def ours_args(serve: str) -> list[str]:
    """The emulator as users start it, from the snapshot :func:`prepare` wrote (``$PORT``: the port)."""
    return [serve, "serve", "--port", "$PORT", "--clock", "manual", "--config", "bench.yaml", "--state", "state.json"]


def prepare(scratch: Path) -> dict[str, str]:
    """Write the config, a state snapshot (a SUCCEEDED n=1 task, then a RUNNING n=4 task) and the bare app's bodies."""
    from mockserver.settings.config import Settings
    from mockserver.domain.emulator import Emulator
    from mockserver.http.app import create_app
    from mockserver.domain.snapshot import export

    import yaml

    (scratch / "bench.yaml").write_text(CONFIG)
    emulator = Emulator(Settings(clock="manual", **yaml.safe_load(CONFIG)))
    app = create_app(emulator=emulator)
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}

    async def run() -> dict[str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            async def submit(n: int) -> str:
                body = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": n}}
                answer = await client.post(SUBMIT_PATH, json=body)
                return answer.json()["output"]["task_id"]

            done = await submit(1)
            emulator.clock.advance(60)
            running = await submit(4)
            emulator.clock.advance(5)
            poll = await client.get(f"/api/v1/tasks/{running}")
            image_url = (await client.get(f"/api/v1/tasks/{done}")).json()["output"]["results"][0]["url"]
            image_path = image_url.removeprefix("http://bench")
            image = await client.get(image_path)
            (scratch / "state.json").write_text(json.dumps(export(emulator)))  # before the submit below
            submitted = await client.post(SUBMIT_PATH, content=SUBMIT_BODY)
            assert poll.status_code == image.status_code == submitted.status_code == 200
            (scratch / "poll.body").write_bytes(poll.content)
            (scratch / "image.body").write_bytes(image.content)
            (scratch / "submit.body").write_bytes(submitted.content)
            return {"poll": f"/api/v1/tasks/{running}", "image": image_path, "submit": SUBMIT_PATH}

    paths = asyncio.run(run())
    (scratch / "bare_app.py").write_text(BARE_APP)
    (scratch / "submit.lua").write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(SUBMIT_BODY)}\nwrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["X-DashScope-Async"] = "enable"\n'
    )
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process and of its children still running (``--workers``), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(child) for child in children.read_text().split()] if children.exists() else []
    return int(fields[11]) + int(fields[12]) + sum(cpu_ticks(kid) for kid in kids)


def wait_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}")


def wrk(url: str, args: argparse.Namespace, seconds: float, extra: list[str]) -> tuple[float, float, str]:
    """``(req/s, p99 ms, errors)`` of one wrk run pinned to the generator's core."""
    command = ["taskset", "-c", str(args.gen_cpu), "wrk", "-t1", f"-c{args.conns}", f"-d{seconds:g}s", "--latency", *extra, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = "; ".join(line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line)
    return rps, p99, errors


class Server:
    """One server process pinned to the server core."""

    def __init__(self, name: str, command: list[str], cwd: Path, args: argparse.Namespace) -> None:
        self.name, self.port = name, free_port()
        command = [part.replace("$PORT", str(self.port)) for part in command]
        self.process = subprocess.Popen(["taskset", "-c", str(args.srv_cpu), *command], cwd=cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


def measure(servers: list[Server], cwd: Path, paths: dict[str, str], args: argparse.Namespace) -> list[dict]:
    """Every route on every server; the servers take turns run by run, so a neighbour's load hits them alike."""
    rows = []
    for route in args.routes:
        extra = ["-H", f"Authorization: Bearer {KEY}"]
        if route == "submit":
            extra += ["-s", str(cwd / "submit.lua")]
        for server in servers:
            wrk(server.base + paths[route], args, args.warmup, extra)
        runs: dict[str, list[tuple[float, float, str]]] = {server.name: [] for server in servers}
        busy = {server.name: [0, 0.0, 0.0] for server in servers}  # CPU ticks, wall seconds, requests
        for _ in range(args.runs):
            for server in servers:
                ticks, started = cpu_ticks(server.process.pid), time.monotonic()
                runs[server.name].append(wrk(server.base + paths[route], args, args.duration, extra))
                busy[server.name][0] += cpu_ticks(server.process.pid) - ticks
                busy[server.name][1] += time.monotonic() - started
                busy[server.name][2] += runs[server.name][-1][0] * args.duration
        for server in servers:
            done = runs[server.name]
            ticks, seconds, served = busy[server.name]
            cpu_seconds = ticks / os.sysconf("SC_CLK_TCK")
            rows.append({"route": route, "server": server.name, "rps": statistics.median(r[0] for r in done),
                         "p99": statistics.median(r[1] for r in done), "cpu": 100 * cpu_seconds / seconds,
                         "us": 1e6 * cpu_seconds / served,
                         "runs": "/".join(f"{r[0]:.0f}" for r in done), "errors": "; ".join(r[2] for r in done if r[2])})
            print(f"# {server.name} {route}: {rows[-1]['runs']} req/s, CPU {rows[-1]['cpu']:.0f}%", file=sys.stderr, flush=True)
    return rows


def store_servers(ours: list[str], scratch: Path, args: argparse.Namespace, stack: contextlib.ExitStack) -> list[Server]:
    """The emulator over SQLite (one worker, then two on the server's cores) and over Redis on loopback.

    Each starts from the same snapshot (``--state`` fills the store). On a machine with two cores the two
    workers share the server's one core: their row shows what coordinating through the store costs, not
    how it scales (give ``--srv-cpu 0-3`` on a bigger machine for that).
    """
    servers = [Server("ours-sqlite", [*ours, "--store", f"sqlite://{scratch}/one.db"], scratch, args),
               Server("ours-sqlite-2w", [*ours, "--store", f"sqlite://{scratch}/two.db", "--workers", "2"], scratch, args)]
    if shutil.which("redis-server"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from redis_server import redis_server  # a throwaway server on a free port, as the tests start it

        servers.append(Server("ours-redis", [*ours, "--store", stack.enter_context(redis_server())], scratch, args))
    else:
        print("# redis-server not installed (apt-get install redis-server): no Redis row", file=sys.stderr)
    return servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--srv-cpu", default="0", help="the server's cores, as taskset takes them (0, or 0-3)")
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--routes", default="poll,image,submit")
    parser.add_argument("--stores", action="store_true",
                        help="add the emulator on SQLite (one worker and two) and on Redis (when redis-server is installed)")
    args = parser.parse_args()
    args.routes = args.routes.split(",")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install wrk util-linux)")
    serve = shutil.which("dashscope-mock") or sys.exit("dashscope-mock not found: pip install . first")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        paths = prepare(scratch)
        uvicorn = [sys.executable, *BARE_ARGS]
        ours = ours_args(serve)
        servers = [Server("starlette-bytes", uvicorn, scratch, args), Server("ours", ours, scratch, args),
                   Server("ours-quiet", [*ours, "--log-level", "warning"], scratch, args)]
        redis = contextlib.ExitStack()
        if args.stores:
            servers += store_servers(ours, scratch, args, redis)
        try:
            for server in servers:
                wait_up(server.base + "/", server.process)
            rows = measure(servers, scratch, paths, args)
        finally:
            for server in servers:
                server.stop()
            redis.close()
    import platform
    import uvicorn as uv

    print(f"# python {platform.python_version()}, uvicorn {uv.__version__}; {os.cpu_count()} CPUs; server CPU "
          f"{args.srv_cpu}, wrk CPU {args.gen_cpu}: wrk -t1 -c{args.conns} -d{args.duration:g}s x{args.runs} "
          f"after {args.warmup:g}s warm-up; ratio = req/s / starlette-bytes' on the same route in this run")
    print("# cpu_us/req: the server's CPU time per answered request; x_cpu = starlette-bytes' cpu_us/req / this "
          "one's (what one core would serve, relative: robust when neighbours take CPU from the server)")
    print(f"{'route':<8}{'server':<17}{'median_rps':>11}{'p99_ms':>9}{'x_starl':>9}{'srvCPU%':>9}{'cpu_us/req':>11}"
          f"{'x_cpu':>7}  runs (req/s)")
    base = {row["route"]: row for row in rows if row["server"] == "starlette-bytes"}
    for route in args.routes:
        for row in (r for r in rows if r["route"] == route):
            ratio = row["rps"] / base[route]["rps"] if route in base else float("nan")
            capacity = base[route]["us"] / row["us"] if route in base and row["us"] else float("nan")
            flag = f"  ! {row['errors']}" if row["errors"] else ""
            print(f"{route:<8}{row['server']:<17}{row['rps']:>11.0f}{row['p99']:>9.2f}{ratio:>9.2f}{row['cpu']:>9.0f}"
                  f"{row['us']:>11.1f}{capacity:>7.2f}  {row['runs']}{flag}")


if __name__ == "__main__":
    main()
