"""Benchmark: encoding a placeholder MP4 against rendering one placeholder PNG of the same size.

Run: ``python load/bench_video.py`` (from the repository root; needs the ``video`` extra).
Prints the median seconds of each and their ratio, measured in the same run:

1. a 5 s, 30 fps, 1280*720 clip (five labelled pictures, 150 H.264 frames);
2. one 1280*720 placeholder PNG (the baseline: what a result image costs).

The target is a 5 s 720p clip in well under a second; the ratio says how many
result images one clip costs, whatever the machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockserver.results.render import Placeholder, render  # noqa: E402
from mockserver.results.video import VideoSpec, render_mp4  # noqa: E402

ROUNDS = 7
WIDTH, HEIGHT, SECONDS, FPS = 1280, 720, 5, 30


def _median_seconds(work) -> float:
    work()  # warm up: imports, fonts
    times = []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        work(round_)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    def clip(seed: int = 0) -> bytes:
        return render_mp4(VideoSpec("wanx2.1-t2v-turbo", WIDTH, HEIGHT, SECONDS, FPS, seed, "a kitten in the moonlight"))

    def picture(seed: int = 0) -> bytes:
        return render(Placeholder("wanx2.1-t2v-turbo", "", WIDTH, HEIGHT, 0, 1, seed, "a kitten in the moonlight"))

    video = _median_seconds(clip)
    image = _median_seconds(picture)
    print(f"MP4 {WIDTH}*{HEIGHT}, {SECONDS} s at {FPS} fps: {video * 1000:.0f} ms (median of {ROUNDS})")
    print(f"PNG {WIDTH}*{HEIGHT} (baseline): {image * 1000:.0f} ms")
    print(f"ratio: one clip costs {video / image:.1f} result images")


if __name__ == "__main__":
    main()
