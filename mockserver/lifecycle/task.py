"""A task's record and its plan.

At submission a task gets its whole plan: when it is scheduled, when it ends
and how each image ends. Its status at any instant is a pure function of that
plan and the clock (:func:`status_at`); nothing runs per task in the background.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Base64Bytes

PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELED = "CANCELED"
UNKNOWN = "UNKNOWN"

TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED, UNKNOWN})


class _Nothing(dict):  # type: ignore[type-arg]
    """The empty mapping every task without partial failures or extra fields shares (64 bytes a task saved).

    Read-only, so sharing it is safe: a fault gives the task a dict of its own instead.
    """

    def _shared(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("this empty mapping is shared by every task: assign a new dict instead")

    __setitem__ = __delitem__ = __ior__ = update = setdefault = pop = popitem = clear = _shared  # type: ignore[assignment]


NOTHING: dict[Any, Any] = _Nothing()


@dataclass(frozen=True)
class Outcome:
    """How a task or one of its images ends when it does not succeed."""

    code: str
    message: str


@dataclass(slots=True)  # no per-task __dict__: a million retained tasks must fit in 1 GiB
class Task:
    """One submitted task. Times are emulator-clock seconds since the epoch."""

    task_id: str
    account: str
    api_key_id: str
    caller_uid: str  # the main account's numeric id, as the task list shows it
    model: str
    group: str
    function: str
    request_id: str
    input: dict[str, Any]
    parameters: dict[str, Any]
    image_count: int
    submitted_at: float
    pending_seconds: float  # the least time it waits before it can be scheduled
    run_seconds: float  # how long it runs once scheduled
    scheduled_at: float = 0.0
    ended_at: float = 0.0
    failure: Outcome | None = None  # the whole task ends FAILED with this
    image_failures: dict[int, Outcome] = field(default_factory=lambda: NOTHING)  # partial failure by index
    canceled_at: float | None = None
    call: bool = False  # made by a synchronous call: it holds the call's results, no query or list sees it
    extra: dict[str, Any] = field(default_factory=lambda: NOTHING)  # fields a fault adds to the output (forward compatibility)
    # The fetched sketch's strokes the results are drawn from (results.render.line_mask); base64 in a snapshot.
    lines: Base64Bytes | None = None

    @property
    def lane(self) -> tuple[str, str]:
        """Tasks of one account and model share that model's concurrency slots."""
        return (self.account, self.model)

    @property
    def finished_at(self) -> float:
        """When the task reached its final state (as planned)."""
        return self.canceled_at if self.canceled_at is not None else self.ended_at

    def final_status(self) -> str:
        if self.canceled_at is not None:
            return CANCELED
        if self.failure is not None or len(self.image_failures) >= self.image_count:
            return FAILED
        return SUCCEEDED

    def status_at(self, now: float, retention: float) -> str:
        """The status a query at ``now`` sees; UNKNOWN once ``retention`` has passed the end."""
        if self.canceled_at is not None and now >= self.canceled_at:
            return UNKNOWN if now >= self.canceled_at + retention else CANCELED
        if now < self.scheduled_at:
            return PENDING
        if now < self.ended_at:
            return RUNNING
        if now >= self.ended_at + retention:
            return UNKNOWN
        return self.final_status()

    def succeeded_images(self) -> int:
        if self.failure is not None:
            return 0
        return self.image_count - len(self.image_failures)
