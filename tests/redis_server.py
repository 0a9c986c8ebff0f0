"""A real ``redis-server`` on loopback for the Redis store's tests (and load/bench_stores.py).

``redis-server`` cannot pick a free port itself, so one is picked here; it
runs without persistence and is stopped at the end. Without the program the
tests skip, except in CI (``CI`` set), where a missing server is a failure:
``.ci/run`` installs Debian's ``redis-server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

_START_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def redis_server() -> Iterator[str]:
    """Start ``redis-server`` on a free loopback port; yield its URL (database 0)."""
    program = shutil.which("redis-server")
    if program is None:
        raise FileNotFoundError("redis-server is not installed (Debian: apt-get install redis-server)")
    import redis

    port = _free_port()
    process = subprocess.Popen(
        [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer PING on port {port}") from None
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        process.kill()  # a throwaway server without persistence: nothing to shut down cleanly
        process.wait()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One redis-server for the session; skipped without the program, except in CI where that fails."""
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must install it (.ci/run)")
        pytest.skip(reason)
    with redis_server() as url:
        yield url
