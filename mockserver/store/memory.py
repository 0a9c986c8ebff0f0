"""The in-memory store: dicts, deques and one lock."""

from __future__ import annotations

import heapq
import threading
from collections import deque
from typing import Iterable

from ..account_state import AccountState
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.task import Task
from .base import StoreState


class MemoryStore:
    """Holds everything in this process. Lookups by task id are O(1)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._by_account: dict[str, dict[str, Task]] = {}
        self._lanes: dict[tuple[str, str], Lane] = {}
        self._windows: dict[str, deque[float]] = {}
        self._accounts: dict[str, AccountState] = {}
        self._job_books: dict[str, JobBook] = {}
        self._uploads: dict[str, tuple[bytes, float]] = {}
        self._upload_expiries: list[tuple[float, str]] = []  # a min-heap: expired uploads leave first

    def transaction(self) -> threading.RLock:
        return self._lock

    def add_task(self, task: Task) -> None:
        self._tasks[task.task_id] = task
        self._by_account.setdefault(task.account, {})[task.task_id] = task

    def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def save_task(self, task: Task) -> None:
        """Objects are shared in memory: nothing to write back."""

    def account_tasks(self, account: str) -> Iterable[Task]:
        return list(self._by_account.get(account, {}).values())

    def tasks(self) -> list[Task]:
        return list(self._tasks.values())

    def account_ids(self) -> list[str]:
        return list(dict.fromkeys([*self._by_account, *self._accounts]))

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        key = (account, model)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(concurrency)
        return lane

    def lanes(self, account: str | None = None) -> Iterable[Lane]:
        return [lane for (owner, _), lane in self._lanes.items() if account in (None, owner)]

    def account_state(self, account: str) -> AccountState:
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = AccountState()
        return state

    def job_book(self, account: str, concurrency: int) -> JobBook:
        book = self._job_books.get(account)
        if book is None:
            book = self._job_books[account] = JobBook(Lane(concurrency))
        return book

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        # A sliding-window log that never holds more than `limit` entries: O(1) a call.
        if limit <= 0:
            return False
        hits = self._windows.get(key)
        if hits is None or hits.maxlen != limit:  # new, or the limit changed at run time
            hits = self._windows[key] = deque(hits or (), maxlen=limit)
        if len(hits) >= limit and now - hits[0] < window:
            return False
        hits.append(now)
        return True

    def put_upload(self, key: str, data: bytes, expires_at: float, now: float) -> None:
        while self._upload_expiries and self._upload_expiries[0][0] <= now:
            expired_at, old = heapq.heappop(self._upload_expiries)
            if old in self._uploads and self._uploads[old][1] == expired_at:
                del self._uploads[old]
        self._uploads[key] = (data, expires_at)
        heapq.heappush(self._upload_expiries, (expires_at, key))

    def get_upload(self, key: str, now: float) -> bytes | None:
        stored = self._uploads.get(key)
        if stored is None or now >= stored[1]:
            return None
        return stored[0]

    def drop_uploads(self, prefix: str) -> int:
        gone = [key for key in self._uploads if key.startswith(prefix)]
        for key in gone:  # their expiry entries stay in the heap and are skipped when they come up
            del self._uploads[key]
        return len(gone)

    def purge(self, before: float) -> int:
        gone = [task for task in self._tasks.values() if task.finished_at < before]
        for task in gone:
            del self._tasks[task.task_id]
            owned = self._by_account.get(task.account)
            if owned is not None:
                owned.pop(task.task_id, None)
        return len(gone)

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self._tasks.clear()
            self._by_account.clear()
            self._lanes.clear()
            self._windows.clear()
            self._accounts.clear()
            self._job_books.clear()
            self._uploads.clear()
            self._upload_expiries.clear()
            return
        for task_id in self._by_account.pop(account, {}):
            self._tasks.pop(task_id, None)
        for key in [key for key in self._lanes if key[0] == account]:
            del self._lanes[key]
        for key in [key for key in self._windows if key.startswith(f"{account}|")]:
            del self._windows[key]
        self._accounts.pop(account, None)
        self._job_books.pop(account, None)

    def count(self) -> int:
        return len(self._tasks)

    def export(self) -> StoreState:
        return StoreState(
            tasks=list(self._tasks.values()),
            lanes=dict(self._lanes),
            windows={key: (hits.maxlen or 0, list(hits)) for key, hits in self._windows.items()},
            uploads=dict(self._uploads),
            accounts=dict(self._accounts),
            job_books=dict(self._job_books),
        )

    def import_(self, state: StoreState) -> None:
        with self._lock:
            self._tasks = {task.task_id: task for task in state.tasks}
            self._by_account = {}
            for task in state.tasks:
                self._by_account.setdefault(task.account, {})[task.task_id] = task
            self._lanes = dict(state.lanes)
            self._windows = {key: deque(hits, maxlen=limit) for key, (limit, hits) in state.windows.items()}
            self._uploads = dict(state.uploads)
            self._upload_expiries = [(expires_at, key) for key, (_, expires_at) in self._uploads.items()]
            heapq.heapify(self._upload_expiries)
            self._accounts = dict(state.accounts)
            self._job_books = dict(state.job_books)
