"""The SQLite store: one file that survives ``kill -9`` and that several worker processes share.

A unit of work is one ``BEGIN IMMEDIATE`` transaction: it takes the file's
write lock (other processes wait, up to ``busy_timeout``), so a submit's
throttle, queue place and insert are atomic across workers, and it is answered
only after ``COMMIT``. WAL with ``synchronous=NORMAL``: a committed transaction
is in the log before ``COMMIT`` returns, so killing the process loses nothing
acknowledged (a power cut may lose the last few; ``?synchronous=full`` in the
URL fsyncs every commit). Records are JSON text from :mod:`.codec` in the
tables of :mod:`.sqlite_schema`, read through a cache of decoded records that
another process's commit empties. A single worker holds the file alone
(``locking_mode=EXCLUSIVE``): its locks are taken once, not per transaction.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterable, Iterator

from ..domain.account_state import AccountState
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.selection import TaskQuery
from ..lifecycle.task import Task
from . import codec, sqlite_list
from .base import StoreState
from .read_cache import MISSING, ReadCache
from .sqlite_schema import SCHEMA, TABLES, add_brief_columns, task_columns

_OPEN_WAIT = 2.0  # seconds a start waits for a file another process is writing
_SWEEP_EVERY = 4096  # rate-limited requests between sweeps of idle rate logs
# A hit, counted unless the ``limit``-th latest one is still in the window: one statement, so on its own it is
# one atomic transaction (an INSERT takes the write lock before it reads). Parameters: key, limit, now, window.
_HIT = """
INSERT INTO hits (key, n, t, lim)
SELECT ?1, IFNULL(latest, 0) + 1, ?3, ?2 FROM (SELECT MAX(n) AS latest FROM hits WHERE key = ?1)
WHERE NOT EXISTS (SELECT 1 FROM hits WHERE key = ?1 AND n = IFNULL(latest, 0) - ?2 + 1 AND ?3 - t < ?4)
"""
# The read cache was checked at the start of this request (Store.begin_request): (store, cache epoch).
_CHECKED: ContextVar[tuple[int, int] | None] = ContextVar("dashscope_mock_sqlite_checked", default=None)


class SqliteStore:
    """Everything in one SQLite file (``sqlite:///path``): held by one process (``alone``), or shared by the
    workers that open it."""

    shared = True

    def __init__(self, path: str, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0, alone: bool = False) -> None:
        self.path = path
        # A file another emulator holds is said at start-up after a short wait, not after busy_timeout.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_OPEN_WAIT)
        self._lock = threading.RLock()  # one connection: threads of this process take turns
        self._depth = 0
        self._hits = 0
        self._cache = ReadCache(self._db, alone)
        with self._lock:
            if alone:  # the one process on the file: its locks are taken once, not per transaction (no shm, no fcntl)
                self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            add_brief_columns(self)

    # -- units of work --------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")  # the file's write lock, so no other process interleaves
            # What another process committed since the request began must be read now: a unit of work changes
            # what it reads, and would write a stale copy back. (Holding the lock, nobody commits until COMMIT.)
            self._cache.check()
            _CHECKED.set((id(self), self._cache.epoch))
            self._depth = 1
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._cache.clear()  # it may hold what was written and rolled back
                raise
            finally:
                self._depth = 0

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- tasks ------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        with self.transaction():
            columns = task_columns(task)
            self._db.execute(
                "INSERT INTO tasks (id, account, model, call, submitted_at, ended_at, canceled, finished_at, doc,"
                " api_key_id, scheduled_at, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (task.task_id, task.account, task.model, *columns))
            self._db.execute("INSERT OR IGNORE INTO owners (account) VALUES (?)", (task.account,))
            self._cache.put(("task", task.task_id), task)

    def save_task(self, task: Task) -> None:
        with self.transaction():
            columns = task_columns(task)
            saved = self._db.execute(
                "UPDATE tasks SET call = ?, submitted_at = ?, ended_at = ?, canceled = ?, finished_at = ?, doc = ?,"
                " api_key_id = ?, scheduled_at = ?, final = ? WHERE id = ?", (*columns, task.task_id)).rowcount
            self._cache.put(("task", task.task_id), task if saved else None)  # a purged task stays gone

    def get_task(self, task_id: str) -> Task | None:
        """The task, one object per task while the cache holds it (as the memory store hands out its own):
        a poll decodes nothing, and what is rendered once per task and state is found again by identity."""
        return self._read(("task", task_id), "SELECT doc FROM tasks WHERE id = ?", codec.load_task)  # type: ignore[return-value]

    def begin_request(self) -> None:
        """Check the read cache once for the whole request (its reads see the store as of its start)."""
        with self._lock:
            self._cache.check()
            _CHECKED.set((id(self), self._cache.epoch))

    def _read(self, key: tuple[str, str], sql: str, decode: Callable[[str], object] = str) -> object:
        """One record (its text, or ``decode``'s object), from the read cache while no other process has
        written (``PRAGMA data_version``); None when there is none."""
        with self._lock:
            if _CHECKED.get() != (id(self), self._cache.epoch):  # not checked in this request (or emptied since)
                self._cache.check()
            found = self._cache.get(key)
            if found is MISSING:
                row = self._db.execute(sql, (key[1],)).fetchone()
                found = decode(row[0]) if row is not None else None
                self._cache.put(key, found)
            return found

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> Iterable[Task]:
        rows = self._all("SELECT doc FROM tasks WHERE account = ? AND submitted_at BETWEEN ? AND ?"
                         " ORDER BY submitted_at, seq", (account, since, until))
        return [codec.load_task(doc) for (doc,) in rows]

    def list_tasks(self, account: str, query: TaskQuery) -> tuple[int, list[Task]]:
        return sqlite_list.list_tasks(self, account, query)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the file, without taking its write lock (WAL readers never wait)."""
        with self._lock:
            if self._depth:  # inside a unit of work: it holds the file already
                yield
                return
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def tasks(self) -> list[Task]:
        return [codec.load_task(doc) for (doc,) in self._all("SELECT doc FROM tasks ORDER BY submitted_at, seq")]

    def account_ids(self) -> list[str]:
        owners = self._all("SELECT account FROM owners ORDER BY seq")
        states = self._all("SELECT account FROM accounts ORDER BY seq")
        return list(dict.fromkeys(account for (account,) in [*owners, *states]))

    def count(self) -> int:
        return self._one("SELECT COUNT(*) FROM tasks")[0]  # type: ignore[index]

    # -- lanes ------------------------------------------------------------------

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        row = self._one("SELECT doc FROM lanes WHERE account = ? AND model = ?", (account, model))
        if row is not None:
            return codec.load_lane(row[0])
        lane = Lane(concurrency)
        self.save_lane(account, model, lane)
        return lane

    def save_lane(self, account: str, model: str, lane: Lane) -> None:
        with self.transaction():
            self._db.execute("INSERT INTO lanes (account, model, busy_until, doc) VALUES (?, ?, ?, ?) ON CONFLICT"
                             " (account, model) DO UPDATE SET busy_until = excluded.busy_until, doc = excluded.doc",
                             (account, model, max(lane.slots, default=-math.inf), codec.dump_lane(lane)))

    def queue(self, account: str, model: str, now: float) -> list[Task]:
        rows = self._all("SELECT doc FROM tasks WHERE account = ? AND model = ? AND call = 0 AND canceled = 0"
                         " AND ended_at > ? ORDER BY submitted_at, seq", (account, model, now))
        return [codec.load_task(doc) for (doc,) in rows]

    def lanes(self, account: str | None = None) -> Iterable[tuple[tuple[str, str], Lane]]:
        rows = self._all("SELECT account, model, doc FROM lanes WHERE ?1 IS NULL OR account = ?1 ORDER BY seq", (account,))
        return [((owner, model), codec.load_lane(doc)) for owner, model, doc in rows]

    # -- accounts and fine-tune jobs ---------------------------------------------

    def account_state(self, account: str, *, create: bool = True) -> AccountState:
        doc = self._read(("account", account), "SELECT doc FROM accounts WHERE account = ?")
        if doc is not None:
            return codec.load_account(doc)
        state = AccountState()
        if create:
            self.save_account_state(account, state)
        return state

    def save_account_state(self, account: str, state: AccountState) -> None:
        with self.transaction():
            doc = codec.dump_account(state)
            self._db.execute("INSERT INTO accounts (account, doc) VALUES (?, ?)"
                             " ON CONFLICT (account) DO UPDATE SET doc = excluded.doc", (account, doc))
            self._cache.put(("account", account), doc)

    def job_book(self, account: str, concurrency: int) -> JobBook:
        row = self._one("SELECT doc FROM job_books WHERE account = ?", (account,))
        if row is not None:
            return codec.load_job_book(row[0])
        book = JobBook(Lane(concurrency))
        self.save_job_book(account, book)
        return book

    def save_job_book(self, account: str, book: JobBook) -> None:
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO job_books VALUES (?, ?)", (account, codec.dump_job_book(book)))

    # -- rate windows -------------------------------------------------------------

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        """The memory store's sliding-window log as numbered rows: a hit is refused when the ``limit``-th
        latest is still in the window, so it reads one row and writes one, whatever the limit."""
        if limit <= 0:
            return False
        with self._lock:
            self._hits += 1
            if self._hits % _SWEEP_EVERY == 0:  # hits out of every window allow anything: forget them
                self._db.execute("DELETE FROM hits WHERE t <= ?", (now - window,))
            return self._db.execute(_HIT, (key, limit, now, window)).rowcount == 1

    def _windows(self) -> dict[str, tuple[int, list[float]]]:
        windows: dict[str, tuple[int, list[float]]] = {}
        for key, limit in self._db.execute("SELECT key, lim FROM hits AS h WHERE n = (SELECT MAX(n) FROM hits WHERE key = h.key)"):
            rows = self._db.execute("SELECT t FROM hits WHERE key = ? ORDER BY n DESC LIMIT ?", (key, limit)).fetchall()
            windows[key] = (limit, [t for (t,) in reversed(rows)])
        return windows

    # -- uploads --------------------------------------------------------------------

    def put_upload(self, key: str, data: bytes, expires_at: float, now: float) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM uploads WHERE expires_at <= ?", (now,))
            self._db.execute("INSERT OR REPLACE INTO uploads VALUES (?, ?, ?)", (key, data, expires_at))

    def get_upload(self, key: str, now: float) -> bytes | None:
        row = self._one("SELECT data FROM uploads WHERE key = ? AND expires_at > ?", (key, now))
        return bytes(row[0]) if row is not None else None

    def drop_uploads(self, prefix: str) -> int:
        with self.transaction():
            return self._db.execute("DELETE FROM uploads WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)).rowcount

    # -- housekeeping -----------------------------------------------------------------

    def purge(self, before: float) -> int:
        self._cache.clear()
        with self.transaction():
            owners = self._db.execute("DELETE FROM tasks WHERE finished_at < ? RETURNING account", (before,)).fetchall()
            for account in {account for (account,) in owners}:  # an account left without tasks is seen anew later
                self._db.execute("DELETE FROM owners WHERE account = ?1 AND NOT EXISTS"
                                 " (SELECT 1 FROM tasks WHERE account = ?1)", (account,))
            gone = len(owners)
            self._db.execute("DELETE FROM lanes WHERE busy_until < ?", (before,))  # plans like a new one
            return gone

    def reset(self, account: str | None = None) -> None:
        self._cache.clear()
        with self.transaction():
            if account is None:
                for table in TABLES:
                    self._db.execute(f"DELETE FROM {table}")
                return
            for table in ("tasks", "owners", "lanes", "accounts", "job_books"):
                self._db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))
            prefix = f"{account}|"
            self._db.execute("DELETE FROM hits WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))

    def export(self) -> StoreState:
        with self.transaction():
            return StoreState(
                tasks=self.tasks(),
                lanes=dict(self.lanes()),
                windows=self._windows(),
                uploads={key: (bytes(data), expires) for key, data, expires in self._all("SELECT key, data, expires_at FROM uploads")},
                accounts={account: codec.load_account(doc) for account, doc in self._all("SELECT account, doc FROM accounts ORDER BY seq")},
                job_books={account: codec.load_job_book(doc) for account, doc in self._all("SELECT account, doc FROM job_books")},
            )

    def import_(self, state: StoreState) -> None:
        with self.transaction():
            self.reset()
            for task in sorted(state.tasks, key=lambda task: task.submitted_at):
                self.add_task(task)
            for (account, model), lane in state.lanes.items():
                self.save_lane(account, model, lane)
            for key, (limit, hits) in state.windows.items():
                self._db.executemany("INSERT INTO hits VALUES (?, ?, ?, ?)", [(key, n, t, limit) for n, t in enumerate(hits, 1)])
            for key, (data, expires_at) in state.uploads.items():
                self._db.execute("INSERT INTO uploads VALUES (?, ?, ?)", (key, data, expires_at))
            for account, account_state in state.accounts.items():
                self.save_account_state(account, account_state)
            for account, book in state.job_books.items():
                self.save_job_book(account, book)

    # -- shared documents ---------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        return self._read(("meta", name), "SELECT value FROM meta WHERE name = ?")  # type: ignore[return-value]

    def put_meta(self, name: str, value: str) -> None:
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
            self._cache.put(("meta", name), value)

    def add_meta(self, name: str, value: str) -> str:
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, value))
            kept = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0]
            self._cache.put(("meta", name), kept)
            return kept

    def boot(self) -> int:
        with self.transaction():
            boots = int(self.get_meta("boots") or 0) + 1
            self.put_meta("boots", str(boots))
            return boots

    def close(self) -> None:
        with self._lock:
            self._db.close()

