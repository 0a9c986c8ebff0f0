"""Concurrency: the per-(account, model) queue as a handful of slot free-times.

A lane has ``concurrency`` slots. A new task takes the slot that frees first,
so it is scheduled at ``max(earliest start, first free slot)``; because every
newer task starts no earlier than an older one, the queue is FIFO. Submitting
costs O(log slots) and needs nothing but the slots, so a store keeps a lane as
a few numbers. Only a change that affects others (a cancel, a limit changed at
run time) re-plans the tasks still in the lane, which the store hands over
(``Store.queue``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable

from .task import Task

_FREE = float("-inf")


@dataclass
class Lane:
    concurrency: int
    slots: list[float] = field(default_factory=list)  # a min-heap of the times slots free up

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = [_FREE] * self.concurrency

    def schedule(self, task: Task, now: float) -> None:
        """Plan ``task``'s start and end: it takes the slot that frees first."""
        start = max(task.submitted_at + task.pending_seconds, self.slots[0])
        task.scheduled_at = start
        task.ended_at = start + task.run_seconds
        heapq.heapreplace(self.slots, task.ended_at)

    def replan(self, now: float, queue: Iterable[Task], concurrency: int | None = None) -> list[Task]:
        """Re-plan the waiting tasks of ``queue`` (the lane's unfinished tasks, in submission order) after a
        cancel or a limit change; return the tasks whose plan changed (a store saves them)."""
        if concurrency is not None:
            self.concurrency = concurrency
        live = [t for t in queue if t.canceled_at is None and t.ended_at > now]
        running = [t for t in live if t.scheduled_at <= now]
        waiting = [t for t in live if t.scheduled_at > now]
        busy = sorted(t.ended_at for t in running)
        # Running tasks keep their slots; with fewer slots than running tasks, the
        # extra ones still finish, and the waiting ones queue behind the earliest ends.
        self.slots = busy[-self.concurrency :] if len(busy) > self.concurrency else busy
        self.slots += [_FREE] * (self.concurrency - len(self.slots))
        heapq.heapify(self.slots)
        changed = []
        for task in waiting:
            start = max(task.submitted_at + task.pending_seconds, self.slots[0], now)
            if (start, start + task.run_seconds) != (task.scheduled_at, task.ended_at):
                task.scheduled_at = start
                task.ended_at = start + task.run_seconds
                changed.append(task)
            heapq.heapreplace(self.slots, task.ended_at)
        return changed

    def idle_before(self, when: float) -> bool:
        """True when every slot freed before ``when``: the lane plans like a new one (a store may forget it)."""
        return max(self.slots, default=when) < when
