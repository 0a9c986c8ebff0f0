"""The inspector's task rows: every task of every account, filtered and paged, as a person wants to see it.

The store keeps tasks in submission order; a page is read newest first. Without
a status, model or id filter a page costs a copy of the task list (a C loop) and
the rows it skips and shows; a filter scans the candidates once (one
``status_at`` per task). ``load/bench_inspector.py`` measures both with 100 000 tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Iterator

from ...domain.emulator import HOUR, Emulator
from ...lifecycle.task import PENDING, RUNNING, SUCCEEDED, Task
from ...support.timefmt import shown_time
from .queue import QueuePlaces

MAX_PAGE_SIZE = 200
PLACES = QueuePlaces()  # shared by every emulator in the process: it keys lanes by identity
STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")


@dataclass(frozen=True)
class Filters:
    """What a person narrowed the list to; None is "any"."""

    account: str | None = None
    model: str | None = None
    status: str | None = None
    search: str | None = None  # a task id, or a part of one


def page(emulator: Emulator, filters: Filters, page_no: int, page_size: int) -> dict[str, Any]:
    """One page of rows, newest first, with the total that matched."""
    now = emulator.clock.now()
    retention = emulator.settings.retention_hours * HOUR
    with emulator.store.transaction():
        candidates = _candidates(emulator, filters)
    skip = (page_no - 1) * page_size
    if filters.status is None and filters.model is None and filters.search is None:
        total = len(candidates)
        chosen = list(islice(reversed(candidates), skip, skip + page_size))
    else:
        total, chosen = _scan(reversed(candidates), filters, now, retention, skip, page_size)
    positions = _queue_positions(emulator, [task for task in chosen if task.status_at(now, retention) == PENDING], now)
    return {
        "now": now,
        "now_shown": shown_time(now),
        "total": total,
        "page": page_no,
        "page_size": page_size,
        "tasks": [row(task, now, retention, positions.get(task.task_id)) for task in chosen],
    }


def row(task: Task, now: float, retention: float, queue_position: int | None = None) -> dict[str, Any]:
    """A task as the inspector shows it: state, queue place, progress, thumbnails, failures."""
    status = task.status_at(now, retention)
    shown: dict[str, Any] = {
        "task_id": task.task_id,
        "account": task.account,
        "model": task.model,
        "status": status,
        "images": task.image_count,
        "submitted_at": task.submitted_at,
        "submitted": shown_time(task.submitted_at),
        "scheduled_at": None if task.canceled_at is not None else task.scheduled_at,
        "ended_at": task.finished_at,
        "queue_position": queue_position if status == PENDING else None,
        "progress": None,
        "thumbnails": [],
        "failure": None,
        "image_failures": [{"index": index, "code": outcome.code, "message": outcome.message}
                           for index, outcome in sorted(task.image_failures.items())],
    }
    if status == RUNNING:
        shown["progress"] = round(min(1.0, (now - task.scheduled_at) / task.run_seconds), 3) if task.run_seconds else 1.0
    if status == SUCCEEDED:
        shown["thumbnails"] = [thumbnail_path(task.task_id, index) for index in range(task.image_count)
                               if index not in task.image_failures]
    if task.failure is not None and now >= task.ended_at and task.canceled_at is None:
        shown["failure"] = {"code": task.failure.code, "message": task.failure.message}
    return shown


def thumbnail_path(task_id: str, index: int) -> str:
    return f"/__mock/ui/thumbs/{task_id}/{index}.png"


def _candidates(emulator: Emulator, filters: Filters) -> list[Task]:
    store = emulator.store
    if filters.search:
        exact = store.get_task(filters.search)
        if exact is not None:
            return [exact] if filters.account in (None, exact.account) else []
    if filters.account:
        return list(store.account_tasks(filters.account))
    return store.tasks()


def _scan(tasks: Iterable[Task], filters: Filters, now: float, retention: float, skip: int,
          size: int) -> tuple[int, list[Task]]:
    total, chosen = 0, []
    for task in _matching(tasks, filters, now, retention):
        if skip <= total < skip + size:
            chosen.append(task)
        total += 1
    return total, chosen


def _matching(tasks: Iterable[Task], filters: Filters, now: float, retention: float) -> Iterator[Task]:
    for task in tasks:
        if filters.model is not None and task.model != filters.model:
            continue
        if filters.search and filters.search not in task.task_id:
            continue
        if filters.status is not None and task.status_at(now, retention) != filters.status:
            continue
        yield task


def _queue_positions(emulator: Emulator, pending: list[Task], now: float) -> dict[str, int]:
    """Each PENDING task's place among the waiting tasks of its lane (1: next to start)."""
    positions: dict[str, int] = {}
    with emulator.store.transaction():
        lanes = {}
        for task in pending:
            if task.lane not in lanes:
                lane = next((lane for key, lane in emulator.store.lanes(task.account) if key == task.lane), None)
                lanes[task.lane] = (lane, emulator.store.queue(task.account, task.model, now)) if lane else None
            found = lanes[task.lane]
            place = PLACES.place(emulator, found[0], found[1], task, now) if found is not None else None
            if place is not None:
                positions[task.task_id] = place
    return positions
