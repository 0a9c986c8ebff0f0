"""At most so many of something a second; the rest only counted, and told in one go when the second is over.

The server logs a line per DashScope request. Under load that is tens of
thousands of lines a second: more than anyone reads, a fifth of a poll's cost,
and a disk filled by whoever floods the emulator. Every request is still in the
journal (``GET /__mock/requests``) and the metrics; the log keeps the first
``per_second`` lines of each second and one line saying how many it left out.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable


class PerSecond:
    """Admits ``per_second`` a wall-clock second (0: all); ``told(count)`` hears of the rest once that second ends."""

    def __init__(self, per_second: int, told: Callable[[int], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._told = told
        self._clock = clock  # wall-clock seconds: log pacing, not emulated time
        self._second = 0  # the wall-clock second being counted
        self._used = 0
        self._left_out = 0

    def admit(self) -> bool:
        if not self.per_second:
            return True
        now = self._clock()
        second = int(now)
        if second != self._second:
            self.tell()
            self._second, self._used = second, 0
        if self._used < self.per_second:
            self._used += 1
            return True
        if not self._left_out:
            self._tell_later(second + 1 - now)
        self._left_out += 1
        return False

    def tell(self) -> None:
        """Say how many were left out in the second counted so far (nothing when none was)."""
        if self._left_out:
            left_out, self._left_out = self._left_out, 0
            self._told(left_out)

    def _tell_later(self, seconds: float) -> None:
        """At the end of the second, even if nothing else comes to be admitted (at the next admission without a loop)."""
        try:
            asyncio.get_running_loop().call_later(max(seconds, 0.0), self.tell)
        except RuntimeError:
            pass
