"""Benchmark: the emulator's poll and submit routes against a bare Starlette endpoint.

Both servers run the same way (uvicorn, one process each, on loopback) in the
same run; a client sends N requests over keep-alive connections from C
concurrent workers and prints requests per second and the ratio to the bare
endpoint. Run: ``python load/bench_http.py [--requests 3000] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

KEY = "sk-bench"
BARE_APP = textwrap.dedent(
    """
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    BODY = b'{"request_id":"x","output":{"task_id":"t","task_status":"PENDING"}}'

    async def endpoint(request):
        if request.method == "POST":
            await request.body()
        return Response(BODY, media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/tasks/{task_id}", endpoint),
                            Route("/api/v1/services/aigc/{group}/{function}", endpoint, methods=["POST"])])
    """
)
CONFIG = textwrap.dedent(
    f"""
    accounts:
      - id: bench
        keys: [{KEY}]
        limits: {{"*": {{submit_per_second: 100000000, concurrency: 100000}}}}
        requests_per_second: 100000000
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, cwd: str) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server on {port} did not start")


async def hammer(url: str, method: str, requests: int, concurrency: int, body: dict | None) -> float:
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        per_worker = requests // concurrency

        async def worker() -> None:
            for _ in range(per_worker):
                response = await client.request(method, url, json=body)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        await client.request(method, url, json=body)  # warm up the connection
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "bare_app.py").write_text(BARE_APP)
        Path(scratch, "bench.yaml").write_text(CONFIG)
        bare_port, mock_port = free_port(), free_port()
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log", "--host", "127.0.0.1"]
        bare = start(uvicorn + ["--port", str(bare_port), "bare_app:app"], bare_port, scratch)
        mock = start([sys.executable, "-m", "mockserver", "serve", "--port", str(mock_port), "--config",
                      str(Path(scratch, "bench.yaml")), "--log-level", "warning"], mock_port, scratch)
        try:
            body = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}}
            mock_base = f"http://127.0.0.1:{mock_port}/api/v1"
            submitted = httpx.post(f"{mock_base}/services/aigc/text2image/image-synthesis", json=body,
                                   headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"})
            task_id = submitted.json()["output"]["task_id"]
            cases = [
                ("GET /tasks/{id}", "GET", f"http://127.0.0.1:{bare_port}/api/v1/tasks/x",
                 f"{mock_base}/tasks/{task_id}", None),
                ("POST submit", "POST", f"http://127.0.0.1:{bare_port}/api/v1/services/aigc/text2image/image-synthesis",
                 f"{mock_base}/services/aigc/text2image/image-synthesis", body),
            ]
            print(f"{args.requests} requests, {args.concurrency} concurrent connections, loopback")
            print(f"{'route':<18}{'bare req/s':>12}{'emulator req/s':>16}{'ratio':>8}")
            for name, method, bare_url, mock_url, payload in cases:
                bare_rate = asyncio.run(hammer(bare_url, method, args.requests, args.concurrency, payload))
                mock_rate = asyncio.run(hammer(mock_url, method, args.requests, args.concurrency, payload))
                print(f"{name:<18}{bare_rate:>12.0f}{mock_rate:>16.0f}{mock_rate / bare_rate:>8.2f}")
        finally:
            for process in (bare, mock):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
