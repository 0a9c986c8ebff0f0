"""Runs the container recipe's command lines in a network namespace of its own, where port 8580 is free.

``unshare --net --map-root-user python tests/container_check.py CMD_JSON HEALTHCHECK_JSON`` brings the
namespace's loopback up, starts CMD (the Dockerfile's, verbatim) with an admin token in the environment,
calls ``/__mock/health`` with and without it, runs the HEALTHCHECK command, stops the server with SIGTERM
and prints what it saw as JSON for tests/test_container_recipe.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import httpx

TOKEN = "s3cret-container"
_SIOCSIFFLAGS = 0x8914
_IFF_UP, _IFF_LOOPBACK, _IFF_RUNNING = 0x1, 0x8, 0x40


def loopback_up() -> None:
    """``ip link set lo up`` without iproute2: a new network namespace starts with lo down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.pack("16sH", b"lo", _IFF_UP | _IFF_LOOPBACK | _IFF_RUNNING) + b"\0" * 22
        fcntl.ioctl(sock, _SIOCSIFFLAGS, flags)


def health(headers: dict[str, str]) -> int | None:
    try:
        return httpx.get("http://127.0.0.1:8580/__mock/health", headers=headers, timeout=2).status_code
    except httpx.HTTPError:
        return None


def main() -> None:
    command, healthcheck = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    loopback_up()
    env = {**os.environ, "DASHSCOPE_MOCK_ADMIN_TOKEN": TOKEN}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 20  # start-up only
        while health({"X-Mock-Admin-Token": TOKEN}) != 200 and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
        seen["with_token"] = health({"X-Mock-Admin-Token": TOKEN})
        seen["without_token"] = health({})
        seen["healthcheck"] = subprocess.run(healthcheck, env=env, capture_output=True, timeout=30).returncode
        wrong = {**env, "DASHSCOPE_MOCK_ADMIN_TOKEN": "not-it"}
        seen["healthcheck_wrong_token"] = subprocess.run(healthcheck, env=wrong, capture_output=True, timeout=30).returncode
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=15)
    seen.update(exit=server.returncode, stdout=out, stderr=err)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
