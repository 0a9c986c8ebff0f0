"""A real emulator on loopback for tests: uvicorn in a thread, on a free port.

No mocks: the tests talk HTTP to the same app ``dashscope-mock serve`` runs,
and move its clock over HTTP (``POST /__mock/clock/advance``).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from mockserver.config import Settings
from mockserver.emulator import Emulator
from mockserver.http.app import create_app


@dataclass
class LiveServer:
    emulator: Emulator
    url: str  # http://127.0.0.1:PORT
    _server: uvicorn.Server
    _thread: threading.Thread
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=10)

    @property
    def api(self) -> str:
        """The value of DASHSCOPE_HTTP_BASE_URL."""
        return f"{self.url}/api/v1"

    def advance(self, seconds: float) -> None:
        response = self.client.post("/__mock/clock/advance", json={"seconds": seconds})
        response.raise_for_status()

    def submit(self, key: str = "sk-test", model: str = "wanx-v1", path: str | None = None, **body: Any) -> httpx.Response:
        """A raw submit; ``input`` / ``parameters`` go in ``body``."""
        entry = self.emulator.catalog.models.get(model)
        if path is None:
            path = entry.route.path if entry else "/services/aigc/text2image/image-synthesis"
        payload = {"model": model, "input": body.pop("input", {"prompt": "a cat"}), **body}
        return self.client.post(
            f"/api/v1{path}",
            json=payload,
            headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"},
        )

    def query(self, task_id: str, key: str = "sk-test") -> httpx.Response:
        return self.client.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})

    def stop(self) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_server(**settings: Any) -> LiveServer:
    """Start a server with these settings (manual clock unless told otherwise)."""
    settings.setdefault("clock", "manual")
    emulator = Emulator(Settings(**settings))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # else no TCP_NODELAY: 40 ms a request
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(emulator=emulator), log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up, not a task: the only wait in the suite
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the emulator did not start")
        time.sleep(0.005)
    return LiveServer(emulator, f"http://127.0.0.1:{port}", server, thread)
