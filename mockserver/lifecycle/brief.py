"""A task's brief: the few fields the task list filters, counts and orders by.

A list call looks at every task of a 24-hour window (up to a million on a busy
account) but shows at most 100. The durable stores keep these fields beside
the whole record (SQLite columns, a Redis hash), so the list reads them without
decoding every record; the memory store hands out the tasks themselves, which
have the same fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from .task import Task


class Briefed(Protocol):
    """What the list reads of a task: a :class:`Task` or a :class:`TaskBrief`."""

    task_id: str
    model: str
    api_key_id: str
    call: bool
    submitted_at: float

    def status_at(self, now: float, retention: float) -> str: ...


@dataclass(slots=True)
class TaskBrief:
    """A task's listed fields; its status follows from its plan as the task's does."""

    task_id: str
    model: str
    api_key_id: str
    call: bool
    submitted_at: float
    scheduled_at: float
    ended_at: float
    canceled_at: float | None
    final: str  # what Task.final_status() says: fixed by the plan, saved again with the task

    def final_status(self) -> str:
        return self.final

    status_at = Task.status_at  # the very rule a query uses, over the same fields


def _fields(task: Task) -> tuple[object, ...]:
    """The task's brief, in the order of :class:`TaskBrief`'s fields."""
    return (task.task_id, task.model, task.api_key_id, task.call, task.submitted_at, task.scheduled_at, task.ended_at,
            task.canceled_at, task.final_status())


def brief_of(task: Task) -> TaskBrief:
    return TaskBrief(*_fields(task))  # type: ignore[arg-type]


def dump_brief(task: Task) -> str:
    """The brief as a JSON array (floats written exactly), read back by ``TaskBrief(*array)``."""
    return json.dumps(_fields(task))
