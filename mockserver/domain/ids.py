"""Identifiers: task ids (UUID4) and DashScope's UUID-like request ids.

With a seed the sequence repeats exactly, so a test run can name task ids in
advance; without one the ids come from the operating system's randomness.
"""

from __future__ import annotations

import os
import random
import threading

_POOL_BYTES = 4096  # OS randomness read at a time: one system call per 256 ids instead of one per id
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # RFC 4122's variant bits, 10xx


class IdFactory:
    """Makes task and request ids, reproducibly when seeded."""

    def __init__(self, seed: int | str | None = None) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | str | None) -> None:
        with self._lock:
            self._rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
            self._pool, self._used = b"", 0
            self._unseeded = _unseeded_stream(self._rng)

    @property
    def seeded(self) -> bool:
        """Whether ids follow a seed (and so may repeat ones handed out before a reseed or a restore)."""
        return self._unseeded is None

    def state(self) -> list[int] | None:
        """The generator's position, for a snapshot; None when ids come from the OS (nothing to keep)."""
        with self._lock:
            if isinstance(self._rng, random.SystemRandom):
                return None
            return list(self._rng.getstate()[1])

    def restore(self, state: list[int] | None) -> None:
        """Go back to a :meth:`state`; a bad state raises ValueError and changes nothing."""
        rng: random.Random = random.SystemRandom() if state is None else generator_at(state)
        with self._lock:
            self._rng = rng
            self._pool, self._used = b"", 0
            self._unseeded = _unseeded_stream(rng)

    def _hex(self) -> str:
        """128 random bits as 32 hex digits (straight from the OS's bytes when unseeded: the per-request cost)."""
        with self._lock:
            if not isinstance(self._rng, random.SystemRandom):
                return f"{self._rng.getrandbits(128):032x}"
            if self._used + 16 > len(self._pool):  # unseeded: the OS's randomness, read in blocks
                self._pool, self._used = os.urandom(_POOL_BYTES), 0
            self._used += 16
            return self._pool[self._used - 16 : self._used].hex()

    def task_id(self) -> str:
        """A UUID4 string, as the real service gives: ``str(uuid.UUID(int=bits, version=4))`` of 128 random
        bits, written straight from their hex digits (no UUID object: this runs once per submit)."""
        digits = self._hex()
        return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"

    def request_id(self) -> str:
        """``33da8e6b-1309-9a44-be83-352165959608``: UUID-shaped, any version nibble (``str(UUID(int=...))``)."""
        digits = self._hex()
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def derive(self, *parts: object) -> random.Random:
        """A private random stream for one purpose (a task's plan, say): seeded, one of its own that repeats
        from the seed; unseeded, the factory's one generator (nothing repeats, so seeding a generator from
        the OS for every task, as it did once, bought nothing but its cost)."""
        if self._unseeded is not None:
            return self._unseeded
        with self._lock:
            base = self._rng.getrandbits(64)
        return random.Random(f"{base}:{':'.join(map(str, parts))}")


def _unseeded_stream(rng: random.Random) -> random.Random | None:
    """The generator :meth:`IdFactory.derive` hands out when ids come from the OS; None when seeded."""
    return random.Random(os.urandom(32)) if isinstance(rng, random.SystemRandom) else None


def generator_at(state: list[int]) -> random.Random:
    """A Mersenne Twister at ``state`` (the 625 numbers of ``getstate()``)."""
    rng = random.Random()
    try:
        rng.setstate((3, tuple(state), None))
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"not a random generator state: {error}") from None
    return rng
