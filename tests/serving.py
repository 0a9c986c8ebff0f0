"""A real emulator on loopback for tests, with raw-HTTP helpers for DashScope's routes.

No mocks: this is :class:`mockserver.testing.MockServer` (the same app
``dashscope-mock serve`` runs, uvicorn in a thread), started the way these
tests want it: a manual clock and realistic durations unless told otherwise.
"""

from __future__ import annotations

from typing import Any

import httpx

from mockserver.testing import MockServer


class LiveServer(MockServer):
    @property
    def api(self) -> str:
        """The value of DASHSCOPE_HTTP_BASE_URL."""
        return self.base_url

    def submit(self, key: str = "sk-test", model: str = "wanx-v1", path: str | None = None, **body: Any) -> httpx.Response:
        """A raw submit (a call, without X-DashScope-Async, for a synchronous model); ``input`` / ``parameters`` go in ``body``."""
        entry = self.emulator.catalog.models.get(model)
        if path is None:
            path = entry.route.path if entry else "/services/aigc/text2image/image-synthesis"
        payload = {"model": model, "input": body.pop("input", {"prompt": "a cat"}), **body}
        headers = {"Authorization": f"Bearer {key}"}
        if entry is None or entry.mode == "async":
            headers["X-DashScope-Async"] = "enable"
        return self.client.post(f"/api/v1{path}", json=payload, headers=headers)

    def query(self, task_id: str, key: str = "sk-test") -> httpx.Response:
        return self.client.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})


def start_server(**settings: Any) -> LiveServer:
    """Start a server with these settings (manual clock and speed 1 unless told otherwise)."""
    return LiveServer(**{"clock": "manual", "speed": 1.0, **settings})


def fetch(url: str, **kwargs: Any) -> httpx.Response:
    """A result download; encoding a video takes a while on a loaded machine, so a long guard against a hang."""
    return httpx.get(url, timeout=60, **kwargs)
