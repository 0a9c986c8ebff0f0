"""Queue places of PENDING tasks, cheap enough to poll every second with deep queues.

A lane's tasks in start order only change when the lane does (a submit, a
cancel, a limit change re-plans it); as the clock runs, tasks only leave its
front. So each lane's start order is sorted once per change and kept; a poll
then finds a task's place with one binary search, however deep the queue.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ...lifecycle.lanes import Lane
from ...lifecycle.task import Task

_KEPT = 1024  # lanes whose order is kept (least recently used go first)


@dataclass(frozen=True)
class _Order:
    fingerprint: tuple[Any, ...]
    starts: list[float]  # scheduled_at of the lane's live tasks, in start order
    place: dict[str, int]  # task id: its index in that order


class QueuePlaces:
    def __init__(self) -> None:
        self._orders: OrderedDict[tuple[int, str, str], _Order] = OrderedDict()
        self._lock = threading.Lock()  # several emulators (each on its own server thread) may share it

    def place(self, owner: object, lane: Lane, queue: list[Task], task: Task, now: float) -> int | None:
        """1 when ``task`` starts next in the lane whose unfinished tasks are ``queue``; None when it is
        not waiting there. ``owner`` (the emulator) keeps lanes of different emulators apart."""
        key = (id(owner), task.account, task.model)
        fingerprint = _fingerprint(lane, queue)
        with self._lock:
            order = self._orders.get(key)
            if order is None or order.fingerprint != fingerprint:
                order = self._orders[key] = _order(fingerprint, queue)
                if len(self._orders) > _KEPT:
                    self._orders.popitem(last=False)
            else:
                self._orders.move_to_end(key)
        index = order.place.get(task.task_id)
        if index is None or task.scheduled_at <= now:
            return None
        return index - bisect_right(order.starts, now) + 1


def _order(fingerprint: tuple[Any, ...], queue: list[Task]) -> _Order:
    live = sorted((t for t in queue if t.canceled_at is None), key=lambda t: (t.scheduled_at, t.submitted_at))
    return _Order(fingerprint, [t.scheduled_at for t in live], {t.task_id: index for index, t in enumerate(live)})


def _fingerprint(lane: Lane, queue: list[Task]) -> tuple[Any, ...]:
    """What changes whenever the lane's start order can: its last task (a submit) and its slots (a re-plan)."""
    last = queue[-1].task_id if queue else None
    return (last, lane.concurrency, tuple(lane.slots))
