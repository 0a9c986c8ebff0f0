"""What one run of a case left behind: the adapter's results and the client's requests in the journal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Observation:
    """The adapter's task results and this case's journal entries (oldest first).

    Journal times are the emulator's clock; the harness runs it at wall speed,
    so differences between them are wall seconds.
    """

    job: dict[str, Any]
    results: list[dict[str, Any]]
    journal: list[dict[str, Any]] = field(default_factory=list)

    # -- the client's requests -------------------------------------------------------------------

    def requests(self, route: str | None = None, *, status: int | None = None) -> list[dict[str, Any]]:
        return [entry for entry in self.journal
                if (route is None or entry["route"] == route) and (status is None or entry["status"] == status)]

    @property
    def submits(self) -> list[dict[str, Any]]:
        return self.requests("submit")

    def polls(self, task_id: str | None = None) -> list[dict[str, Any]]:
        return [entry for entry in self.requests("query") if task_id is None or entry["task_id"] == task_id]

    @property
    def tasks(self) -> list[str]:
        """Ids of the tasks the client's submits created, in order."""
        return [entry["task_id"] for entry in self.submits if entry["status"] == 200 and entry["task_id"]]

    def after(self, entry: dict[str, Any], route: str | None = None) -> list[dict[str, Any]]:
        """The requests (of ``route``) that came after ``entry``."""
        return [later for later in self.requests(route) if later["seq"] > entry["seq"]]

    # -- what the client reported ------------------------------------------------------------------

    @property
    def result(self) -> dict[str, Any]:
        return self.results[0]

    @property
    def statuses(self) -> list[str]:
        return [result["status"] for result in self.results]

    def real_files(self, result: dict[str, Any] | None = None) -> list[str]:
        """The reported files that exist and are PNG images."""
        files = (result or self.result)["files"]
        return [name for name in files if Path(name).is_file() and Path(name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"]


def pause(earlier: dict[str, Any], later: dict[str, Any]) -> float:
    """Seconds the client waited between ``earlier``'s answer going out and ``later`` arriving.

    The server's own time on ``earlier`` is left out, so a slow (loaded)
    emulator does not make a client that retries at once look patient.
    """
    answered = earlier["time"] + (earlier.get("latency_ms") or 0) / 1000
    return round(later["time"] - answered, 3)


def gaps(entries: list[dict[str, Any]]) -> list[float]:
    """The client's pause before each request after the first (see :func:`pause`)."""
    return [pause(earlier, later) for earlier, later in zip(entries, entries[1:])]


def said(result: dict[str, Any]) -> str:
    """A result in words: ``SUCCEEDED`` or ``ERROR Throttling.RateQuota``."""
    error = result.get("error")
    return f"{result['status']} {error['code']}" if isinstance(error, dict) and error.get("code") else result["status"]


def timeline(entries: list[dict[str, Any]]) -> str:
    """``submit 429, submit 200, query 200 RUNNING`` for the observed-behaviour text."""
    words = []
    for entry in entries:
        status = "reset" if entry["status"] is None else str(entry["status"])
        word = f"{entry['route']} {status}"
        if entry.get("task_status") and entry["route"] == "query":
            word += f" {entry['task_status']}"
        words.append(word)
    return ", ".join(words) or "no request"
