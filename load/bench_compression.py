"""Benchmark: what gzip costs the poll route (issue 15's compression), in one run.

1. Over HTTP: one emulator (uvicorn, one process, loopback) answers the same
   query with ``Accept-Encoding: identity`` (the baseline) and ``gzip``;
   requests per second of each, their ratio, and the body sizes. The client
   shares the machine (and decodes the gzip), so this ratio is noisy.
2. In process: the compression layer alone over a SUCCEEDED query's body,
   microseconds per answer with identity (the baseline) and with gzip.

Run: ``python load/bench_compression.py [--requests 3000] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from bench_peers import CONFIG, KEY, free_port, wait_up  # noqa: E402

from mockserver.http.compression import Compression  # noqa: E402

LAYER_ROUNDS = 5000


async def hammer(url: str, encoding: str, requests: int, concurrency: int) -> tuple[float, int]:
    """Requests per second, and the size of one answer's body on the wire."""
    headers = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": encoding}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        per_worker = requests // concurrency
        async with client.stream("GET", url) as first:  # warm up, and measure the wire size
            wire = len(b"".join([chunk async for chunk in first.aiter_raw()]))

        async def worker() -> None:
            for _ in range(per_worker):
                response = await client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - started), wire


def layer_microseconds(body: bytes, encoding: str) -> float:
    """Microseconds per answer of the compression layer over an app that sends ``body``."""

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        return None

    layer = Compression(app)
    scope = {"type": "http", "method": "GET", "path": "/api/v1/tasks/x", "headers": [(b"accept-encoding", encoding.encode())]}

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(LAYER_ROUNDS):
            await layer(scope, receive, send)
        return (time.perf_counter() - started) / LAYER_ROUNDS * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "bench.yaml").write_text(CONFIG)
        port = free_port()
        mock = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--config",
                                 str(Path(scratch, "bench.yaml")), "--log-level", "warning", "--speed", "inf"],
                                cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(f"http://127.0.0.1:{port}/", mock)
            base = f"http://127.0.0.1:{port}/api/v1"
            body = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 4}}
            submitted = httpx.post(f"{base}/services/aigc/text2image/image-synthesis", json=body,
                                   headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"})
            url = f"{base}/tasks/{submitted.json()['output']['task_id']}"  # SUCCEEDED: four signed URLs
            plain, plain_size = asyncio.run(hammer(url, "identity", args.requests, args.concurrency))
            packed, packed_size = asyncio.run(hammer(url, "gzip", args.requests, args.concurrency))
            print(f"{args.requests} polls of a SUCCEEDED wanx-v1 task (n=4), {args.concurrency} connections, loopback")
            print(f"{'Accept-Encoding':<18}{'req/s':>10}{'body bytes':>12}")
            print(f"{'identity':<18}{plain:>10.0f}{plain_size:>12}")
            print(f"{'gzip':<18}{packed:>10.0f}{packed_size:>12}")
            print(f"gzip/identity req/s ratio: {packed / plain:.2f}")
            body = httpx.get(url, headers={"Authorization": f"Bearer {KEY}", "Accept-Encoding": "identity"}).content
            identity_us, gzip_us = layer_microseconds(body, "identity"), layer_microseconds(body, "gzip")
            print(f"compression layer alone, {len(body)}-byte body, {LAYER_ROUNDS} answers: identity {identity_us:.1f} us, "
                  f"gzip {gzip_us:.1f} us, ratio {gzip_us / identity_us:.2f}")
        finally:
            mock.terminate()
            mock.wait(timeout=10)


if __name__ == "__main__":
    main()
