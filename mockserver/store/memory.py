"""The in-memory store (the default): dicts, deques and one lock, in this process only."""

from __future__ import annotations

import bisect
import heapq
import math
import threading
from collections import deque
from typing import Iterable

from ..domain.account_state import AccountState
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.selection import TaskQuery, select
from ..lifecycle.task import Task
from .base import StoreState


_SWEEP_EVERY = 4096  # rate-limited requests between sweeps of idle rate logs


def _submitted(task: Task) -> float:
    return task.submitted_at


class MemoryStore:
    """Holds everything in this process. Lookups by task id are O(1).

    It hands out its own objects, so a change is kept as it is made and the saves cost nothing.
    """

    shared = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._by_account: dict[str, list[Task]] = {}  # each in submission order (by submitted_at)
        self._lanes: dict[tuple[str, str], Lane] = {}
        self._queues: dict[tuple[str, str], deque[Task]] = {}  # a lane's tasks, finished ones leaving from the front
        self._meta: dict[str, str] = {}
        self._windows: dict[str, deque[float]] = {}
        self._hits = 0
        self._accounts: dict[str, AccountState] = {}
        self._job_books: dict[str, JobBook] = {}
        self._uploads: dict[str, tuple[bytes, float]] = {}
        self._upload_expiries: list[tuple[float, str]] = []  # a min-heap: expired uploads leave first
        # What the purge has looked at: each account's tasks submitted before ``_looked[account]``, the ones of them
        # that had not ended yet kept in ``_lingering``, a min-heap of (planned end, task id).
        self._looked: dict[str, float] = {}
        self._lingering: list[tuple[float, str]] = []

    def transaction(self) -> threading.RLock:
        return self._lock

    def add_task(self, task: Task) -> None:
        self._tasks[task.task_id] = task
        owned = self._by_account.setdefault(task.account, [])
        if owned and owned[-1].submitted_at > task.submitted_at:  # only a restore goes back in time
            bisect.insort(owned, task, key=_submitted)
        else:
            owned.append(task)
        if not task.call:
            self._queues.setdefault(task.lane, deque()).append(task)
        if task.submitted_at < self._looked.get(task.account, -math.inf):  # submitted on a clock set back
            heapq.heappush(self._lingering, (task.finished_at, task.task_id))

    def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def save_task(self, task: Task) -> None:
        """Objects are shared in memory: nothing to write back, but for the purge, the new end of a task it has
        looked at and left lingering (a cancel or a re-plan moved it)."""
        if task.task_id in self._tasks and task.submitted_at < self._looked.get(task.account, -math.inf):
            heapq.heappush(self._lingering, (task.finished_at, task.task_id))

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> list[Task]:
        owned = self._by_account.get(account, [])
        low = bisect.bisect_left(owned, since, key=_submitted)
        high = bisect.bisect_right(owned, until, key=_submitted)
        return owned[low:high]

    def list_tasks(self, account: str, query: TaskQuery) -> tuple[int, list[Task]]:
        """Selected among the tasks themselves: they have every field a brief has."""
        return select(self.account_tasks(account, query.since, query.until), query)

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

    def save_lane(self, account: str, model: str, lane: Lane) -> None:
        self._lanes[(account, model)] = lane

    def queue(self, account: str, model: str, now: float) -> list[Task]:
        tasks = self._queues.get((account, model))
        if not tasks:
            return []
        while tasks and (tasks[0].canceled_at is not None or tasks[0].ended_at <= now):
            tasks.popleft()
        return [task for task in tasks if task.canceled_at is None and task.ended_at > now]

    def lanes(self, account: str | None = None) -> Iterable[tuple[tuple[str, str], Lane]]:
        return [(key, lane) for key, lane in self._lanes.items() if account in (None, key[0])]

    def account_state(self, account: str, *, create: bool = True) -> AccountState:
        state = self._accounts.get(account)
        if state is None:
            state = AccountState()
            if create:
                self._accounts[account] = state
        return state

    def save_account_state(self, account: str, state: AccountState) -> None:
        self._accounts[account] = state

    def job_book(self, account: str, concurrency: int) -> JobBook:
        book = self._job_books.get(account)
        if book is None:
            book = self._job_books[account] = JobBook(Lane(concurrency))
        return book

    def save_job_book(self, account: str, book: JobBook) -> None:
        self._job_books[account] = book

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        # A sliding-window log holding only the hits of the last `window` (and never more than `limit`),
        # so a key costs memory while it is busy; idle keys are swept every _SWEEP_EVERY hits.
        if limit <= 0:
            return False
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now - window)
        hits = self._windows.get(key)
        if hits is None or hits.maxlen != limit:  # new, or the limit changed at run time
            hits = self._windows[key] = deque(hits or (), maxlen=limit)
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def _sweep(self, before: float) -> None:
        """Forget the rate logs whose last hit is older than ``before``: they would allow anything anyway."""
        for key in [key for key, hits in self._windows.items() if not hits or hits[-1] < before]:
            del self._windows[key]

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
        # Each task submitted before ``before`` is looked at once: ended, it goes; still queued or running, it
        # lingers on a heap of planned ends, which later purges take ended tasks from. (Every purge used to walk
        # all of them again: a backlog older than the retention made each purge walk the backlog, quadratic under
        # a sustained load.) Only such old, unended tasks cost a heap entry; a save files a moved end anew.
        gone: dict[str, Task] = {}
        lingering = self._lingering
        while lingering and lingering[0][0] < before:
            _, task_id = heapq.heappop(lingering)
            task = self._tasks.get(task_id)
            if task is None or task_id in gone:
                continue  # forgotten already (a reset), or filed twice
            if task.finished_at >= before:
                heapq.heappush(lingering, (task.finished_at, task_id))  # re-planned to end later
            else:
                gone[task_id] = task
        for account, owned in self._by_account.items():
            looked = self._looked.get(account, -math.inf)
            if looked >= before:
                continue
            self._looked[account] = before
            first, last = (bisect.bisect_left(owned, when, key=_submitted) for when in (looked, before))
            for task in owned[first:last]:
                if task.finished_at < before:
                    gone[task.task_id] = task
                else:
                    heapq.heappush(lingering, (task.finished_at, task.task_id))
        for task_id in gone:
            del self._tasks[task_id]
        for account in {task.account for task in gone.values()}:
            owned = self._by_account[account]
            # The forgotten are among the account's oldest: rebuild the list only up to the newest of them.
            newest = max(task.submitted_at for task in gone.values() if task.account == account)
            cut = bisect.bisect_right(owned, newest, key=_submitted)
            owned[:cut] = [task for task in owned[:cut] if task.task_id not in gone]
            if not owned:
                del self._by_account[account]
                self._looked.pop(account, None)  # seen anew if it submits again, as a new account is
        for key in {task.lane for task in gone.values()} & self._queues.keys():
            queue = self._queues[key]  # in submission order: the forgotten ones are at its front
            while queue and queue[0].task_id not in self._tasks:  # (one behind a task still running waits for the next purge)
                queue.popleft()
            if not queue:
                del self._queues[key]
        # A lane whose slots all freed before ``before`` plans like a new one: forget it.
        for key in [key for key, lane in self._lanes.items() if lane.idle_before(before)]:
            del self._lanes[key]
        return len(gone)

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self._tasks.clear()
            self._looked.clear()
            self._lingering.clear()
            self._by_account.clear()
            self._lanes.clear()
            self._queues.clear()
            self._windows.clear()
            self._accounts.clear()
            self._job_books.clear()
            self._uploads.clear()
            self._upload_expiries.clear()
            return
        for task in self._by_account.pop(account, []):
            self._tasks.pop(task.task_id, None)
        self._looked.pop(account, None)
        for key in [key for key in self._lanes if key[0] == account]:
            del self._lanes[key]
        for key in [key for key in self._queues if key[0] == account]:
            del self._queues[key]
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
            self._tasks = {}
            self._looked, self._lingering = {}, []
            self._by_account = {}
            self._queues = {}
            for task in sorted(state.tasks, key=_submitted):
                self.add_task(task)
            self._lanes = dict(state.lanes)
            self._windows = {key: deque(hits, maxlen=limit) for key, (limit, hits) in state.windows.items()}
            self._uploads = dict(state.uploads)
            self._upload_expiries = [(expires_at, key) for key, (_, expires_at) in self._uploads.items()]
            heapq.heapify(self._upload_expiries)
            self._accounts = dict(state.accounts)
            self._job_books = dict(state.job_books)

    def get_meta(self, name: str) -> str | None:
        return self._meta.get(name)

    def put_meta(self, name: str, value: str) -> None:
        self._meta[name] = value

    def add_meta(self, name: str, value: str) -> str:
        return self._meta.setdefault(name, value)

    def boot(self) -> int:
        return 1  # nothing outlives the process

    def begin_request(self) -> None:
        """Every read is of the objects themselves: nothing to check."""

    def close(self) -> None:
        """Nothing to release."""
