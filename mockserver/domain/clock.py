"""The emulator's one clock.

Every timestamp, expiry, rate window and task duration reads :class:`Clock`;
nothing else in the emulator reads the wall clock. The clock runs in one of
three modes:

- ``real``: wall time (plus any offset added by :meth:`Clock.advance`);
- ``scaled``: time runs ``rate`` times faster than the wall clock;
- ``manual``: time stands still and moves only through :meth:`advance` / :meth:`set`.

Readings are seconds since the Unix epoch as floats, so the emulator's "now"
can be compared with and turned into real dates.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Callable, ContextManager, Literal

ClockMode = Literal["real", "scaled", "manual"]

# The clock's range: every date it gives (plus retention and URL lifetimes, bounded in the settings)
# must still format as a date. Year 3000 leaves ample room; a move past it is refused, not stored.
LATEST = 32503680000.0  # 3000-01-01T00:00:00Z
MAX_RATE = 1000.0  # a scaled clock at most this fast: it would still need a year to reach LATEST


def _check_time(timestamp: float) -> None:
    if not 0 <= timestamp <= LATEST:
        raise ValueError("the clock stays between 1970 and the year 3000")


def _check_rate(rate: float) -> None:
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"clock rate must be > 0 and at most {MAX_RATE:g}")


class Clock:
    """A thread-safe clock with real, scaled and manual modes."""

    def __init__(
        self,
        mode: ClockMode = "real",
        *,
        rate: float = 1.0,
        start: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if mode not in ("real", "scaled", "manual"):
            raise ValueError(f"unknown clock mode {mode!r}")
        _check_rate(rate)
        self._wall = wall
        self._lock = threading.Lock()
        self._mode: ClockMode = mode
        self._rate = rate if mode == "scaled" else 1.0
        # The clock reads: origin + (wall - wall_origin) * rate, or origin when manual.
        self._wall_origin = wall()
        self._origin = self._wall_origin if start is None else float(start)
        _check_time(self._origin)
        # Wraps every change: a shared store's session (mockserver.domain.sharing) makes it atomic across processes.
        self.changing: Callable[[], ContextManager[object]] = contextlib.nullcontext

    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def rate(self) -> float:
        return self._rate

    def now(self) -> float:
        """Seconds since the epoch on the emulator's clock."""
        if self._mode == "manual":
            return self._origin
        return self._origin + (self._wall() - self._wall_origin) * self._rate

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never backward) by ``seconds``; return the new time."""
        if not seconds >= 0:
            raise ValueError("the clock only moves forward")
        with self.changing(), self._lock:
            _check_time(self.now() + seconds)
            self._origin += seconds
            return self.now()

    def set(self, timestamp: float) -> float:
        """Jump to ``timestamp`` if it is not in the clock's past; return the new time."""
        with self.changing(), self._lock:
            current = self.now()
            if timestamp < current:
                raise ValueError("the clock only moves forward")
            _check_time(timestamp)
            self._origin += timestamp - current
            return self.now()

    def switch(self, mode: ClockMode, *, rate: float | None = None) -> None:
        """Change mode (freeze, resume, rescale) without a jump in the reading."""
        if mode not in ("real", "scaled", "manual"):
            raise ValueError(f"unknown clock mode {mode!r}")
        if mode == "scaled":
            _check_rate(rate if rate is not None else self._rate)
        with self.changing(), self._lock:
            current = self.now()
            self._mode = mode
            if mode == "scaled":
                self._rate = rate if rate is not None else self._rate
            else:
                self._rate = 1.0
            self._origin = current
            self._wall_origin = self._wall()

    def restore(self, mode: ClockMode, rate: float, now: float) -> None:
        """Put the clock where a snapshot left it, even in its past: for a state restore only."""
        if mode not in ("real", "scaled", "manual"):
            raise ValueError("a clock needs a mode of real, scaled or manual")
        _check_rate(rate)
        _check_time(now)
        with self.changing(), self._lock:
            self._mode = mode
            self._rate = rate if mode == "scaled" else 1.0
            self._origin = float(now)
            self._wall_origin = self._wall()

    def dump(self) -> str:
        """The clock's whole state as text, for a store several processes share (wall time is theirs in common)."""
        with self._lock:
            return json.dumps([self._mode, self._rate, self._origin, self._wall_origin])

    def load(self, text: str) -> None:
        """Take the state of a :meth:`dump` (another process's, or this one's before a restart)."""
        mode, rate, origin, wall_origin = json.loads(text)
        with self._lock:
            self._mode, self._rate, self._origin, self._wall_origin = mode, rate, origin, wall_origin

    def describe(self) -> dict[str, object]:
        """The clock's state for the control plane."""
        return {"mode": self._mode, "rate": self._rate, "now": self.now()}
