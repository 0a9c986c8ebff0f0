"""The Redis store's unit of work: a lock in Redis that processes take turns at, and the undo of a failed unit.

Redis has no transaction that spans a request's reads and writes, so the
store makes its own: the outermost :meth:`RedisTransactions.transaction` takes
a lock key (``SET NX PX`` with a token of ours, released by a script that
checks the token), writes go straight through while it is held, and each
write leaves a way to take it back, used newest first if an exception leaves
the unit. This is all the store knows of locking; what it writes, and how each
write is taken back, is :mod:`mockserver.store.redis`'s.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import redis

from ..domain.errors import ApiError
from . import redis_scripts as scripts


class StoreBusy(ApiError):
    """Another process held the Redis store's lock for longer than we may wait.

    The request that waited is answered as DashScope answers a failure of its own back end (500
    ``InternalError``, which clients retry), never with a traceback; ``str()`` says what happened.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("InternalError")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class RedisTransactions:
    """Units of work over one Redis client: the base of :class:`~mockserver.store.redis.RedisStore`, whose
    writes call :meth:`_on_failure` with how to take each back (a method of the store's own class, so a
    write pays no extra call for it)."""

    def __init__(self, client: redis.Redis, lock_key: str, lock_ms: int, wait: float) -> None:
        self._redis = client
        self._lock_key = lock_key
        self._lock_ms = lock_ms  # how long a crashed holder keeps the others out
        self._wait = wait  # how long a unit of work waits for the lock before StoreBusy
        self._local = threading.RLock()  # threads of this process take turns; only the outermost locks Redis
        self._depth = 0
        self._token = b""
        self._undo: list[Callable[[], object]] | None = None  # how to take back the open unit of work's writes
        self._holder = 0  # the thread whose unit of work is open (another thread's lone calls are not in it)
        self._unlock = client.register_script(scripts.UNLOCK)
        self._refresh = client.register_script(scripts.REFRESH)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; writes go straight through, and an exception leaving the outermost unit of work
        takes them back (newest first) before the lock is released. Bulk calls (``purge``, ``reset``,
        ``import_``, ``drop_uploads``) are applied at once and not taken back."""
        with self._local:
            outermost = self._depth == 0
            if outermost:
                self._token = self._acquire()
                self._undo, self._holder = [], threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                if outermost:
                    undo, self._undo = self._undo or [], None
                    for action in reversed(undo):
                        action()
                raise
            finally:
                self._depth -= 1
                if outermost:
                    self._undo = None
                    self._unlock(keys=[self._lock_key], args=[self._token])

    def _on_failure(self, action: Callable[[], object]) -> None:
        """Remember how to take back a write, if a unit of work is open (a lone call has nothing to undo)."""
        if self._undo is not None and self._holder == threading.get_ident():
            self._undo.append(action)

    @contextmanager
    def _at_once(self) -> Iterator[None]:
        """A bulk call, inside the lock: applied at once, its writes are not remembered for taking back."""
        with self.transaction():
            undo, self._undo = self._undo, None
            try:
                yield
            finally:
                self._undo = undo

    def _keep_lock(self) -> None:
        """Hold the lock another ``lock_seconds`` (a long bulk call calls this between batches)."""
        if self._depth:
            self._refresh(keys=[self._lock_key], args=[self._token, self._lock_ms])

    def _acquire(self) -> bytes:
        token = os.urandom(16).hex().encode()
        deadline = time.monotonic() + self._wait
        pause = 0.0005
        while not self._redis.set(self._lock_key, token, nx=True, px=self._lock_ms):
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the Redis store's lock ({self._lock_key}) stayed held by another process for {self._wait:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return token
