"""Benchmark: placeholder rendering against plain PNG encoding, and serving a cached result image.

Run: ``python load/bench_images.py`` (from the repository root). Prints figures
and ratios against baselines measured in the same run:

1. render + encode one 1024*1024 placeholder vs Pillow encoding a plain
   1024*1024 RGB image with the same PNG settings;
2. GETs per second of one cached result image over loopback (keep-alive,
   sequential and with 4 client threads) vs the control plane's tiny
   ``/__mock/health`` on the same server, which is the per-request floor.

The server runs in its own process (``dashscope-mock serve``) so the client
does not share its interpreter.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockserver.results.render import PNG_LEVEL, Placeholder, render  # noqa: E402

SIZE = (1024, 1024)
ROUNDS = 20
REQUESTS = 600
THREADS = 4


def _median_seconds(work, rounds: int = ROUNDS) -> float:
    times = []
    for round_ in range(rounds):
        started = time.perf_counter()
        work(round_)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_render() -> None:
    prompt = "一只坐在月亮上的猫, a cat sitting on the moon, watercolor, 🐱 " * 8

    def placeholder(round_: int) -> None:
        render(Placeholder("wanx-v1", "<watercolor>", *SIZE, index=0, count=4, seed=round_, prompt=prompt))

    def plain(round_: int) -> None:
        Image.new("RGB", SIZE, (round_, 128, 200)).save(io.BytesIO(), "PNG", compress_level=PNG_LEVEL)

    placeholder(0)  # warm the font cache
    ours, base = _median_seconds(placeholder), _median_seconds(plain)
    print(f"render+encode 1024*1024 placeholder: {ours * 1000:.1f} ms (median of {ROUNDS})")
    print(f"encode plain 1024*1024 RGB PNG:      {base * 1000:.1f} ms (median of {ROUNDS})")
    print(f"ratio placeholder / plain:           {ours / base:.1f}x")


def _start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--clock", "manual", "--speed", "inf",
         "--log-level", "warning"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[1].strip()


def _rate(url: str, requests: int, threads: int) -> tuple[float, int]:
    """Requests per second and bytes per response over ``threads`` keep-alive clients."""
    sizes: list[int] = []

    def client(count: int) -> None:
        with httpx.Client() as session:
            for _ in range(count):
                response = session.get(url)
                response.raise_for_status()
            sizes.append(len(response.content))

    workers = [threading.Thread(target=client, args=(requests // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return (requests // threads * threads) / elapsed, sizes[0]


def bench_serving() -> None:
    process, base = _start_server()
    try:
        headers = {"Authorization": "Bearer sk-bench", "X-DashScope-Async": "enable"}
        submitted = httpx.post(
            f"{base}/api/v1/services/aigc/text2image/image-synthesis",
            json={"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}},
            headers=headers,
        ).json()
        output = httpx.get(f"{base}/api/v1/tasks/{submitted['output']['task_id']}", headers=headers).json()["output"]
        image_url = output["results"][0]["url"]
        httpx.get(image_url).raise_for_status()  # render once: from here on it is cached
        health_url = f"{base}/__mock/health"
        for threads in (1, THREADS):
            _rate(image_url, 50, threads)  # warm up connections
            image_rate, image_bytes = _rate(image_url, REQUESTS, threads)
            health_rate, _ = _rate(health_url, REQUESTS, threads)
            print(
                f"cached image GET, {threads} client thread(s): {image_rate:.0f} req/s, "
                f"{image_rate * image_bytes / 2**20:.1f} MiB/s ({image_bytes} B each); "
                f"/__mock/health: {health_rate:.0f} req/s; ratio image / health: {image_rate / health_rate:.2f}"
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    bench_render()
    bench_serving()
