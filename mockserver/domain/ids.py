"""Identifiers: task ids (UUID4) and DashScope's UUID-like request ids.

With a seed the sequence repeats exactly, so a test run can name task ids in
advance; without one the ids come from the operating system's randomness.
"""

from __future__ import annotations

import os
import random
import threading
from typing import Callable

_BATCH = 256  # unseeded ids made at a time, from one read of the OS's randomness (one system call, not 256)
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # RFC 4122's variant bits, 10xx


class IdFactory:
    """Makes task and request ids, reproducibly when seeded."""

    def __init__(self, seed: int | str | None = None) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | str | None) -> None:
        with self._lock:
            self._rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
            self._start_afresh()

    def _start_afresh(self) -> None:
        """Forget ids made ahead and the shared stream (under the lock): the generator changed."""
        self._made: dict[Callable[[str], str], list[str]] = {_uuid4: [], _uuid_like: []}
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
            self._start_afresh()

    def _next(self, shape: Callable[[str], str]) -> str:
        """The next id of ``shape``: seeded, from the generator's next 128 bits; unseeded, one of a batch made
        from one read of the OS's randomness (a list's ``pop`` per id is the per-request cost)."""
        made = self._made[shape]
        while True:
            try:
                return made.pop()
            except IndexError:
                pass
            with self._lock:
                if not isinstance(self._rng, random.SystemRandom):
                    return shape(f"{self._rng.getrandbits(128):032x}")
                if not made:
                    made.extend(_batch(shape, _BATCH))

    def task_id(self) -> str:
        """A UUID4 string, as the real service gives: ``str(uuid.UUID(int=bits, version=4))`` of 128 random bits."""
        return self._next(_uuid4)

    def request_id(self) -> str:
        """``33da8e6b-1309-9a44-be83-352165959608``: UUID-shaped, any version nibble (``str(UUID(int=...))``)."""
        return self._next(_uuid_like)

    def derive(self, *parts: object) -> random.Random:
        """A private random stream for one purpose (a task's plan, say): seeded, one of its own that repeats
        from the seed; unseeded, the factory's one generator (nothing repeats, so seeding a generator from
        the OS for every task, as it did once, bought nothing but its cost)."""
        if self._unseeded is not None:
            return self._unseeded
        with self._lock:
            base = self._rng.getrandbits(64)
        return random.Random(f"{base}:{':'.join(map(str, parts))}")


def _uuid4(digits: str) -> str:
    """32 hex digits as ``str(uuid.UUID(int=..., version=4))`` writes them (version and variant digits set),
    without the object."""
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"


def _uuid_like(digits: str) -> str:
    """32 hex digits as ``str(uuid.UUID(int=...))`` writes them."""
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))  # a UUID's 7th byte: version 4 in its high nibble
_VARIANT_RFC = bytes((byte & 0x3F) | 0x80 for byte in range(256))  # its 9th: RFC 4122's variant, 10xx xxxx
_DASHED = "%s%s-%s-%s-%s-%s%s%s "  # the eight 4-digit groups of 16 bytes, as a UUID's 8-4-4-4-12 digits


def _batch(shape: Callable[[str], str], count: int) -> list[str]:
    """``count`` ids of ``shape`` from one read of the OS's randomness, all made in C: the same ids as ``shape``
    makes of each 16 bytes' hex digits (version and variant bits set on the bytes, then dashes put in)."""
    raw = bytearray(os.urandom(16 * count))
    if shape is _uuid4:
        raw[6::16] = raw[6::16].translate(_VERSION_4)
        raw[8::16] = raw[8::16].translate(_VARIANT_RFC)
    return ((_DASHED * count) % tuple(raw.hex("-", 2).split("-"))).split()


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
