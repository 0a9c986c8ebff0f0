"""The emulator the cases run on: one the harness starts, or a running one named by ``--url``."""

from __future__ import annotations

from typing import Any

import httpx

from mockserver.testing import Admin

# The harness's own emulator: wall-clock time (so journal times are wall seconds), tasks that end at
# once unless a case's directive says otherwise, result URLs valid 1 h while tasks stay 24 h (case 4.2
# needs a task whose URLs have expired), and a journal big enough for every case of a run.
SETTINGS: dict[str, Any] = {"clock": "real", "speed": float("inf"), "result_url_hours": 1.0,
                            "journal_size": 200_000}


class Target(Admin):
    """The admin calls on the emulator under test, with its base URL."""

    def __init__(self, url: str, server: Any = None) -> None:
        super().__init__(httpx.Client(base_url=url.rstrip("/"), timeout=30))
        self.url = url.rstrip("/")
        self.base_url = f"{self.url}/api/v1"
        self._server = server

    @classmethod
    def start(cls) -> "Target":
        from mockserver.testing import MockServer

        server = MockServer(**SETTINGS)
        return cls(server.url, server)

    def remove_rule(self, rule_id: int) -> None:
        self.client.delete(f"/__mock/faults/{rule_id}")

    def close(self) -> None:
        self.client.close()
        if self._server is not None:
            self._server.stop()
