"""Queue places of PENDING tasks, cheap enough to poll every second with deep queues.

A lane's tasks in start order only change when the lane does (a submit, a
cancel, a limit change re-plans it); as the clock runs, tasks only leave its
front. So each lane's start order is sorted once per change and kept; a poll
then finds a task's place with one binary search, however deep the queue.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ...lifecycle.lanes import Lane
from ...lifecycle.task import Task

_KEPT = 1024  # lanes whose order is kept (least recently used go first)


@dataclass(frozen=True)
class _Order:
    lane: weakref.ref  # the lane it was made for (ids are reused once a lane is gone)
    fingerprint: tuple[Any, ...]
    starts: list[float]  # scheduled_at of the lane's live tasks, in start order
    place: dict[str, int]  # task id: its index in that order


class QueuePlaces:
    def __init__(self) -> None:
        self._orders: OrderedDict[int, _Order] = OrderedDict()
        self._lock = threading.Lock()  # several emulators (each on its own server thread) may share it

    def place(self, lane: Lane, task: Task, now: float) -> int | None:
        """1 when ``task`` starts next in ``lane``; None when it is not waiting there."""
        with self._lock:
            order = self._order(lane)
        index = order.place.get(task.task_id)
        if index is None or task.scheduled_at <= now:
            return None
        return index - bisect_right(order.starts, now) + 1

    def _order(self, lane: Lane) -> _Order:
        fingerprint = _fingerprint(lane)
        kept = self._orders.get(id(lane))
        if kept is not None and kept.lane() is lane and kept.fingerprint == fingerprint:
            self._orders.move_to_end(id(lane))
            return kept
        live = sorted((t for t in lane.tasks if t.canceled_at is None), key=lambda t: (t.scheduled_at, t.submitted_at))
        order = _Order(weakref.ref(lane), fingerprint, [t.scheduled_at for t in live],
                       {t.task_id: index for index, t in enumerate(live)})
        self._orders[id(lane)] = order
        if len(self._orders) > _KEPT:
            self._orders.popitem(last=False)
        return order


def _fingerprint(lane: Lane) -> tuple[Any, ...]:
    """What changes whenever the lane's start order can: its tasks (added, forgotten) and its slots (re-planned)."""
    last = lane.tasks[-1] if lane.tasks else None
    first = lane.tasks[0] if lane.tasks else None
    return (len(lane.tasks), id(first), id(last), lane.concurrency, tuple(lane.slots))
