"""The SQLite store's read cache: decoded records kept until another process commits.

SQLite's ``PRAGMA data_version`` changes only when another connection commits,
so a process that reads a record once can keep it until then; one process
alone on its file (``locking_mode=EXCLUSIVE``) never needs to ask.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

MISSING = object()
_CACHED = 4096  # records the read cache keeps


class ReadCache:
    """Records this process read or wrote, valid until another process commits (``PRAGMA data_version``
    changes only then), so one process on its own file reads each record from SQLite once."""

    def __init__(self, db: sqlite3.Connection, alone: bool) -> None:
        self._db = db
        self._alone = alone  # nobody else can commit: the cache never goes stale
        self._records: OrderedDict[tuple[str, str], object] = OrderedDict()  # text, a Task, or None: none there
        self._version = -1
        self.epoch = 0  # counts the times the cache was emptied

    def check(self) -> None:
        """Empty the cache if another process committed since the last check."""
        if self._alone:
            return
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self.clear()
            self._version = version

    def get(self, key: tuple[str, str]) -> object:
        found = self._records.get(key, MISSING)
        if found is not MISSING:
            self._records.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], record: object) -> None:
        self._records[key] = record
        if len(self._records) > _CACHED:
            self._records.popitem(last=False)

    def clear(self) -> None:
        self._records.clear()
        self.epoch += 1
