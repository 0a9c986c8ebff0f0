"""A new task's plan: how long it waits and runs, and how it ends.

Durations come from the model's timing profile (realistic by default), drawn
from the task's own random stream so a seeded emulator repeats them, and run
``speed`` times faster. A task that would run longer than the timeout ends
FAILED with ``InternalError.Timeout`` at the timeout, as the real service does
after 3 hours.
"""

from __future__ import annotations

import random
from typing import Callable

from ..catalog.schema import Timing
from .task import Outcome, Task


def draw_durations(timing: Timing, images: int, speed: float, rng: random.Random) -> tuple[float, float]:
    """``(pending_seconds, run_seconds)`` for one task, scaled by ``speed``.

    ``low + (high - low) * rng.random()`` is what ``rng.uniform(low, high)`` computes (the same draws, so
    seeded runs repeat), without its Python-level call: this runs once per submit.
    """
    (pending_low, pending_high), (running_low, running_high) = timing.pending, timing.running_base
    pending = pending_low + (pending_high - pending_low) * rng.random()
    running = running_low + (running_high - running_low) * rng.random() + timing.running_per_image * max(images - 1, 0)
    return pending / speed, running / speed


def apply_timeout(task: Task, timeout: float, timeout_outcome: Callable[[], Outcome]) -> None:
    """Cap the task's run at ``timeout``; past it the task fails with ``timeout_outcome()`` (made only then)."""
    if task.run_seconds > timeout:
        task.run_seconds, task.failure = timeout, timeout_outcome()
