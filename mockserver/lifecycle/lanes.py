"""Concurrency: the per-(account, model) queue as the free-times of its busy slots.

A lane has ``concurrency`` slots. A new task takes a free slot, or else the
busy one that frees first, so it is scheduled at ``max(earliest start, that
time)``; because every newer task starts no earlier than an older one, the
queue is FIFO. Only busy slots are kept (a slot that freed before now is as
good as one never used), so a lane costs memory for its running and queued
tasks, not for its concurrency, and a submit costs O(log slots). It needs
nothing but the slots, so a store keeps a lane as a few numbers. Only a change
that affects others (a cancel, a limit changed at run time) re-plans the tasks
still in the lane, which the store hands over (``Store.queue``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Iterable

from .task import Task

@dataclass
class Lane:
    concurrency: int
    slots: list[float] = field(default_factory=list)  # a min-heap of the times busy slots free up; the rest are free

    def schedule(self, task: Task, now: float) -> None:
        """Plan ``task``'s start and end: it takes a free slot, or the busy one that frees first."""
        while self.slots and self.slots[0] <= now:  # freed already
            heapq.heappop(self.slots)
        start = max(task.submitted_at + task.pending_seconds, self._next_free())
        task.scheduled_at = start
        task.ended_at = start + task.run_seconds
        self._take(task.ended_at)

    def replan(self, now: float, queue: Iterable[Task], concurrency: int | None = None) -> list[Task]:
        """Re-plan the waiting tasks of ``queue`` (the lane's unfinished tasks, in submission order) after a
        cancel or a limit change; return the tasks whose plan changed (a store saves them)."""
        if concurrency is not None:
            self.concurrency = concurrency
        live = [t for t in queue if t.canceled_at is None and t.ended_at > now]
        waiting = [t for t in live if t.scheduled_at > now]
        # Running tasks keep their slots; with fewer slots than running tasks, the
        # extra ones still finish, and the waiting ones queue behind the earliest ends.
        busy = sorted(t.ended_at for t in live if t.scheduled_at <= now)
        self.slots = busy[-self.concurrency :] if len(busy) > self.concurrency else busy
        heapq.heapify(self.slots)
        changed = []
        for task in waiting:
            start = max(task.submitted_at + task.pending_seconds, self._next_free(), now)
            if (start, start + task.run_seconds) != (task.scheduled_at, task.ended_at):
                task.scheduled_at = start
                task.ended_at = start + task.run_seconds
                changed.append(task)
            self._take(task.ended_at)
        return changed

    def idle_before(self, when: float) -> bool:
        """True when every slot freed before ``when``: the lane plans like a new one (a store may forget it)."""
        return max(self.slots, default=when) < when

    def _next_free(self) -> float:
        return self.slots[0] if len(self.slots) >= self.concurrency else -math.inf

    def _take(self, until: float) -> None:
        if len(self.slots) >= self.concurrency:
            heapq.heapreplace(self.slots, until)
        else:
            heapq.heappush(self.slots, until)
