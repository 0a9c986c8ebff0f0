"""Concurrency: the per-(account, model) queue as a handful of slot free-times.

A lane has ``concurrency`` slots. A new task takes the slot that frees first,
so it is scheduled at ``max(earliest start, first free slot)``; because every
newer task starts no earlier than an older one, the queue is FIFO. Submitting
costs O(log slots). Only a change that affects others (a cancel, a limit
changed at run time) re-plans the tasks still waiting in the lane.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

from .task import Task

_FREE = float("-inf")


@dataclass
class Lane:
    concurrency: int
    slots: list[float] = field(default_factory=list)  # a min-heap of the times slots free up
    tasks: deque[Task] = field(default_factory=deque)  # unfinished tasks, in submission order

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = [_FREE] * self.concurrency

    def schedule(self, task: Task, now: float) -> None:
        """Plan ``task``'s start and end and append it to the queue."""
        self._forget_finished(now)
        start = max(task.submitted_at + task.pending_seconds, self.slots[0])
        task.scheduled_at = start
        task.ended_at = start + task.run_seconds
        heapq.heapreplace(self.slots, task.ended_at)
        self.tasks.append(task)

    def replan(self, now: float, concurrency: int | None = None) -> None:
        """Re-plan every task that is still waiting, after a cancel or a limit change."""
        if concurrency is not None:
            self.concurrency = concurrency
        self._forget_finished(now)
        running = [
            t for t in self.tasks if t.canceled_at is None and t.scheduled_at <= now < t.ended_at
        ]
        waiting = [t for t in self.tasks if t.canceled_at is None and t.scheduled_at > now]
        busy = sorted(t.ended_at for t in running)
        # Running tasks keep their slots; with fewer slots than running tasks, the
        # extra ones still finish, and the waiting ones queue behind the earliest ends.
        self.slots = busy[-self.concurrency :] if len(busy) > self.concurrency else busy
        self.slots += [_FREE] * (self.concurrency - len(self.slots))
        heapq.heapify(self.slots)
        for task in waiting:
            start = max(task.submitted_at + task.pending_seconds, self.slots[0], now)
            task.scheduled_at = start
            task.ended_at = start + task.run_seconds
            heapq.heapreplace(self.slots, task.ended_at)

    def _forget_finished(self, now: float) -> None:
        while self.tasks and (
            self.tasks[0].canceled_at is not None or self.tasks[0].ended_at <= now
        ):
            self.tasks.popleft()
