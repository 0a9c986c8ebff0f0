"""Which tasks a task-list call shows: the question (:class:`TaskQuery`) a store answers, and the answer
worked out in Python over the window's tasks or briefs (the memory and Redis stores; SQLite asks SQL).

One pass filters and counts; the page is found without sorting the window, so a call costs one light
pass plus its page, not a row per task of the account's day.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence, TypeVar

from ..support.timefmt import epoch_ms
from .brief import Briefed
from .task import UNKNOWN


@dataclass(frozen=True)
class TaskQuery:
    """A list call's question: the tasks submitted in ``[since, until]``, no synchronous calls and none
    UNKNOWN at ``now``, with the fields given (None: any), newest first; items ``start:stop`` of them."""

    since: float
    until: float
    task_id: str | None
    model: str | None
    status: str | None
    api_key_id: str | None
    now: float
    retention: float
    start: int
    stop: int


B = TypeVar("B", bound=Briefed)


def select(tasks: Sequence[B], query: TaskQuery) -> tuple[int, list[B]]:
    """``(total, page)`` of the window's ``tasks`` (in submission order)."""
    matching = _matching(tasks, query)
    return len(matching), _newest_first(matching, query.start, query.stop)


def _matching(tasks: Sequence[B], query: TaskQuery) -> list[B]:
    task_id, model, status, key, now, retention = (query.task_id, query.model, query.status, query.api_key_id,
                                                   query.now, query.retention)
    kept = []
    for task in tasks:
        if task.call or (task_id is not None and task.task_id != task_id) or (model is not None and task.model != model):
            continue
        if key is not None and task.api_key_id != key:
            continue
        found = task.status_at(now, retention)
        if found != UNKNOWN and (status is None or found == status):
            kept.append(task)
    return kept


def _created(task: Briefed) -> int:
    """A row's ``gmt_create``: what the list is ordered by."""
    return epoch_ms(task.submitted_at)


def _newest_first(tasks: list[B], start: int, stop: int) -> list[B]:
    """Items ``start:stop`` of ``tasks`` (in submission order) sorted newest first by ``gmt_create``; tasks of
    one millisecond keep submission order among themselves (what a stable sort of the whole list gives).

    ``gmt_create`` never decreases along submission order, so the tasks of one millisecond are a run that
    two bisections find: this walks the page's runs only, whatever the list's length."""
    count = len(tasks)
    page: list[B] = []
    at = start  # the position in the answer
    while at < min(stop, count):
        created = _created(tasks[count - 1 - at])
        low = bisect.bisect_left(tasks, created, hi=count - at, key=_created)
        high = bisect.bisect_right(tasks, created, lo=count - 1 - at, key=_created)
        first = count - high  # the run's first position in the answer, where its oldest task goes
        end = min(stop, count - low)
        page += tasks[low + at - first : low + end - first]
        at = end
    return page
