"""What the emulator saw during a run, read from its control plane: the journal, the tasks, the clock.

The summary's figures come from here, not from the load generator's own
counts: the journal has every request and its answer, the state snapshot has
every task with its plan (so its queue wait and run time are exact), and
both are on the emulator's clock, which the account's limits are measured on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import TypeAdapter

from ..lifecycle.task import Task
from .jobs import job_of

_TASKS = TypeAdapter(list[Task])
JOURNAL_PAGE = 10000  # journal entries a request reads (the control plane's most)


@dataclass
class Mark:
    """The moment a run starts: the emulator's time and the last journal entry's number."""

    time: float
    seq: int


@dataclass
class Seen:
    """The emulator's record of one run."""

    requests: list[dict[str, Any]]  # journal entries, oldest first
    complete: bool  # False when the journal's ring buffer dropped entries of the run
    tasks: dict[str, Task]  # the run's tasks (their prompts carry its marker), by task id
    jobs_of_tasks: dict[str, str]  # task id -> the job id in its prompt
    started: float  # emulator-clock seconds: the run's first request
    ended: float  # and its last (the load's own span, without start-up or shutdown)


@dataclass
class ControlPlane:
    """The control plane of the emulator at ``url`` (its base, without ``/api/v1``)."""

    url: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url.rstrip("/"), timeout=60)

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(path, params={key: value for key, value in params.items() if value is not None})
        answer.raise_for_status()
        return answer.json()

    def now(self) -> float:
        return float(self._get("/__mock/clock")["now"])

    def account(self, key: str, model: str | None = None) -> dict[str, Any]:
        """The key's account id, limits and usage (``GET /__mock/account``)."""
        return self._get("/__mock/account", key=key, model=model)

    def mark(self) -> Mark:
        newest = self._get("/__mock/requests", limit=1)["requests"]
        return Mark(time=self.now(), seq=newest[-1]["seq"] if newest else 0)

    def count(self, since: float, **filters: Any) -> int:
        return int(self._get("/__mock/requests/count", since=since, **filters)["count"])

    def journal_after(self, seq: int) -> tuple[list[dict[str, Any]], bool]:
        """Every journal entry past entry number ``seq``, a page at a time, and whether none was missing.

        Pages (``after=``, documented in docs/control-plane.md) keep each answer
        small however big the journal is. Entry numbers grow by one, so a page
        that does not start right after the last one read means the ring buffer
        dropped entries before they were read (``journal_size`` too small).
        """
        entries: list[dict[str, Any]] = []
        after: int | None = seq
        complete = True
        while after is not None:
            page = self._get("/__mock/requests", after=after, limit=JOURNAL_PAGE)
            rows = page["requests"]
            if rows and rows[0]["seq"] != after + 1:
                complete = False
            entries += rows
            after = page["next"]
        return entries, complete

    def seen(self, mark: Mark, run_id: str, account: str | None = None) -> Seen:
        """Everything the journal and the state hold about the run that began at ``mark``.

        ``account`` narrows the journal to one account (the retry profile); the
        tasks are the run's by the marker in their prompts, whatever account sent them.
        """
        now = self.now()
        entries, complete = self.journal_after(mark.seq)
        ours = [entry for entry in entries if account in (None, entry["account"])]
        jobs_of_tasks: dict[str, str] = {}
        tasks: dict[str, Task] = {}
        for task in _TASKS.validate_python(self._get("/__mock/state")["tasks"]):
            job = job_of(task.input.get("prompt"), run_id)
            if job is not None:
                tasks[task.task_id], jobs_of_tasks[task.task_id] = task, job
        span = (ours[0]["time"], ours[-1]["time"]) if ours else (mark.time, now)
        return Seen(ours, complete, tasks, jobs_of_tasks, *span)
