"""When to try again: exponential backoff with jitter, ``Retry-After``, and a deadline.

Shared by every request the reference client makes, so submits, polls and
downloads all back off the same way and never past the caller's deadline.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field


@dataclass
class Deadline:
    """The caller's budget in wall seconds, on the monotonic clock."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def expired(self) -> bool:
        return self.left() <= 0


@dataclass
class Backoff:
    """Delays of ``base * 2**k``, half fixed and half random ("equal jitter"), capped at ``cap``.

    Half fixed keeps a retry from ever coming at once; half random spreads
    clients that were refused together, so they do not come back together.
    """

    base: float = 2.0  # the first retry waits 1-2 s: never sooner than a poll would come
    cap: float = 8.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** self.attempt)
        self.attempt += 1
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        return max(delay, retry_after or 0.0)


def retry_after(header: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta form; DashScope sends none, our emulator may)."""
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None


def sleep_within(delay: float, deadline: Deadline) -> bool:
    """Sleep ``delay`` unless that runs past the deadline; False when there is no time left for it."""
    if delay >= deadline.left():
        return False
    time.sleep(delay)
    return True
