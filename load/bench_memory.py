"""Benchmark: the memory bounds of issue 11, each against a baseline measured in the same run.

Each case starts ``dashscope-mock serve`` in a subprocess (loopback, manual clock) and reads its resident
memory from ``/proc`` (Linux): the peak (``VmHWM``, reset through ``clear_refs`` before each case) or the
growth (``VmRSS`` after minus before). Printed as figures and ratios; nothing is asserted.

    python load/bench_memory.py [--concurrency 16]

1. over-limit bodies: N concurrent submits declaring 30 MB (over the 20 MiB limit) against N small
   submits: refused before reading, they cost what small ones cost;
2. task retention: tasks whose bodies carry 3 MB of unknown fields against tasks with small bodies:
   bytes kept per task;
3. input decodes: N concurrent 4096*4096 input images with ``max_decodes: 2`` against ``max_decodes: N``
   (the old behaviour: every decode at once): peak memory;
4. per-key state: 8,192 keys that each query once against one key querying 8,192 times (real clock:
   idle rate logs are swept every 4,096 requests once a second has passed).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import httpx
import yaml
from PIL import Image

SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"
OUT_PAINT = "/api/v1/services/aigc/image2image/out-painting"
ASYNC = {"X-DashScope-Async": "enable", "Content-Type": "application/json"}
MB = 1024 * 1024


class Server:
    """``dashscope-mock serve`` in a subprocess with these settings."""

    def __init__(self, **settings: object) -> None:
        handle, path = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(handle, "w") as config:
            yaml.safe_dump({"clock": "manual", "speed": 1.0, **settings}, config)
        self._config = path
        # A fixed mmap threshold: freed large blocks go back to the system at once, so RSS growth is
        # what is still referenced (glibc otherwise raises the threshold and keeps freed blocks).
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--config", path],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = line.rsplit(" ", 1)[1].strip()

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` figure in bytes (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def growth(self, work: Callable[[], None]) -> int:
        """How much the resident memory grew over ``work`` (0 when it shrank)."""
        before = self.status("VmRSS")
        work()
        return max(self.status("VmRSS") - before, 0)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        os.unlink(self._config)


def ratio(name: str, value: float, baseline: float, unit: str = "MB", scale: float = MB) -> None:
    print(f"  {name}: {value / scale:.2f} {unit} against {baseline / scale:.2f} {unit} (ratio {value / max(baseline, 1):.2f})")


async def _submit_all(url: str, bodies: list[bytes], headers: list[dict[str, str]]) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=len(bodies))) as client:
        answers = await asyncio.gather(*(client.post(SUBMIT, content=body, headers=head)
                                         for body, head in zip(bodies, headers)), return_exceptions=True)
    return [answer.status_code if isinstance(answer, httpx.Response) else 0 for answer in answers]


async def _declared_over(url: str, count: int) -> None:
    """``count`` connections that each declare 30 MB and send the headers only (the rest would follow)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)

    async def one(number: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write((f"POST {SUBMIT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer sk-{number}\r\n"
                      "X-DashScope-Async: enable\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {30 * MB}\r\nConnection: close\r\n\r\n").encode())
        await writer.drain()
        await reader.read()
        writer.close()

    await asyncio.gather(*(one(number) for number in range(count)))


def over_limit_bodies(concurrency: int) -> None:
    print(f"1. {concurrency} concurrent over-limit submits (Content-Length 30 MB, limit 20 MiB), peak RSS growth")
    server = Server()
    try:
        small = b'{"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}}'
        base = server.status("VmRSS")
        server.reset_peak()
        asyncio.run(_submit_all(server.url, [small] * concurrency,
                                [{**ASYNC, "Authorization": f"Bearer sk-{n}"} for n in range(concurrency)]))
        baseline = server.status("VmHWM") - base
        base = server.status("VmRSS")
        server.reset_peak()
        asyncio.run(_declared_over(server.url, concurrency))
        ratio("declared over the limit", server.status("VmHWM") - base, baseline)
    finally:
        server.stop()


def task_retention(tasks: int = 40) -> None:
    print(f"2. {tasks} tasks with 3 MB of unknown fields in their bodies, RSS kept per task")
    junk = "x" * (2 * MB)
    server = Server()
    try:
        def submits(padded: bool) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for number in range(tasks):
                    extra = {"junk": junk, "more": [junk[: MB]]} if padded else {}
                    body = {"model": "wanx-v1", "input": {"prompt": "a cat", **extra}, "parameters": {"n": 1}}
                    answer = client.post(SUBMIT, json=body, headers={**ASYNC, "Authorization": f"Bearer sk-r{number}"})
                    assert answer.status_code == 200, answer.text

        kept = [server.growth(lambda: submits(padded)) / tasks for padded in (False, True)]
        ratio("per task, big bodies", kept[1], kept[0], "KB", 1024)
    finally:
        server.stop()


def _image_host(data: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    host = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.daemon_threads = True
    threading.Thread(target=host.serve_forever, daemon=True).start()
    return host


def input_decodes(concurrency: int) -> None:
    print(f"3. {concurrency} concurrent 4096*4096 input images, peak RSS growth")
    buffer = io.BytesIO()
    Image.new("RGB", (4096, 4096), "white").save(buffer, "PNG")
    host = _image_host(buffer.getvalue())
    url = f"http://127.0.0.1:{host.server_address[1]}/big.png"
    peaks = []
    try:
        for decodes in (concurrency, 2):
            server = Server(max_decodes=decodes)
            try:
                body = {"model": "image-out-painting", "input": {"image_url": url},
                        "parameters": {"left_offset": 16, "right_offset": 16, "top_offset": 16, "bottom_offset": 16}}
                base = server.status("VmRSS")
                server.reset_peak()

                async def run() -> list[int]:
                    async with httpx.AsyncClient(base_url=server.url, timeout=120,
                                                 limits=httpx.Limits(max_connections=concurrency)) as client:
                        answers = await asyncio.gather(*(client.post(OUT_PAINT, json=body, headers={
                            **ASYNC, "Authorization": f"Bearer sk-d{number}"}) for number in range(concurrency)))
                    return [answer.status_code for answer in answers]

                assert set(asyncio.run(run())) == {200}
                peaks.append(server.status("VmHWM") - base)
            finally:
                server.stop()
        ratio("max_decodes 2", peaks[1], peaks[0])
        print(f"  (the baseline, max_decodes {concurrency}, is every decode at once: the old behaviour)")
    finally:
        host.shutdown()


def per_key_state(keys: int = 8192) -> None:
    print(f"4. {keys} queries from {keys} keys against {keys} from one key, RSS growth")
    server = Server(requests_per_second=1_000_000, clock="real")  # rate logs expire as real time passes
    try:
        def queries(many: bool) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for number in range(keys):
                    key = f"sk-k{number}" if many else "sk-one"
                    client.get("/api/v1/tasks/none", headers={"Authorization": f"Bearer {key}"})

        grown = [server.growth(lambda: queries(many)) for many in (False, True)]
        ratio("per key", grown[1] / keys, max(grown[0], 1) / keys, "bytes", 1)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    over_limit_bodies(args.concurrency * 2)
    task_retention()
    input_decodes(args.concurrency)
    per_key_state()


if __name__ == "__main__":
    main()
