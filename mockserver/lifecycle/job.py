"""A fine-tune job's record and plan, and an account's book of jobs.

Like a task, a job gets its whole plan when it is created (when it starts and
when it ends) and its status at any instant is a pure function of that plan
and the clock; nothing runs in the background. The plan fields are the ones
:class:`~mockserver.lifecycle.lanes.Lane` schedules, so the account's jobs
queue behind its concurrency limit exactly as tasks do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .lanes import Lane
from .task import CANCELED, PENDING, RUNNING, SUCCEEDED

TERMINAL = frozenset({SUCCEEDED, CANCELED})


@dataclass
class Job:
    """One fine-tune job. Times are emulator-clock seconds since the epoch."""

    job_id: str
    account: str
    caller_uid: str
    model: str
    training_file_ids: list[str]
    validation_file_ids: list[str]
    hyper_parameters: dict[str, Any]
    training_type: str
    submitted_at: float
    pending_seconds: float  # the least time it waits before it can start
    run_seconds: float  # how long it trains once started
    scheduled_at: float = 0.0
    ended_at: float = 0.0
    canceled_at: float | None = None

    def status_at(self, now: float) -> str:
        if self.canceled_at is not None and now >= self.canceled_at:
            return CANCELED
        if now < self.scheduled_at:
            return PENDING
        if now < self.ended_at:
            return RUNNING
        return SUCCEEDED

    def finished_at(self, now: float) -> float | None:
        """When it reached its final state, or None while it has not."""
        if self.canceled_at is not None and now >= self.canceled_at:
            return self.canceled_at
        return self.ended_at if now >= self.ended_at else None


@dataclass
class JobBook:
    """An account's jobs, in creation order, and the queue they share."""

    lane: Lane
    jobs: dict[str, Job] = field(default_factory=dict)
