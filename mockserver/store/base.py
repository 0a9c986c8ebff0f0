"""The store interface: where tasks, queues, rate windows, uploads, usage and shared settings live.

Routes and the lifecycle talk only to this interface, so the in-memory store,
a durable SQLite file and a Redis server shared by several processes are
interchangeable (``--store URL``, :func:`mockserver.store.open_store`).

A request's changes are one unit of work: :meth:`Store.transaction` holds the
store (a lock, a SQLite write transaction, a Redis lock) and commits
everything done inside it at once. Loads and saves are explicit: what
:meth:`Store.lane`, :meth:`Store.account_state` and :meth:`Store.job_book`
return is the caller's to change, and only ``save_*`` makes a change seen by
other processes (the memory store hands out its own objects, so its saves cost
nothing). A method called outside a transaction runs in one of its own.
"""

from __future__ import annotations

import math

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from ..domain.account_state import AccountState
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.selection import TaskQuery
from ..lifecycle.task import Task


@dataclass
class StoreState:
    """Everything a store holds, as plain objects: what a snapshot saves and a restore loads
    (the shared documents of :meth:`Store.get_meta` are the emulator's to save).
    """

    tasks: list[Task] = field(default_factory=list)  # in submission order
    lanes: dict[tuple[str, str], Lane] = field(default_factory=dict)  # (account, model)
    windows: dict[str, tuple[int, list[float]]] = field(default_factory=dict)  # rate key: (limit, hit times)
    uploads: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # key: (bytes, expires at)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    job_books: dict[str, JobBook] = field(default_factory=dict)  # account: its fine-tune jobs


class Store(Protocol):
    #: True when other processes may change the store (its clock, fault rules and limits are re-read per request).
    shared: bool

    def transaction(self) -> AbstractContextManager[None]:
        """Hold the store for a sequence of calls that must not interleave; commit them together at the end
        (an exception rolls a durable store back). Re-entrant: only the outermost one commits."""

    def add_task(self, task: Task) -> None: ...

    def get_task(self, task_id: str) -> Task | None: ...

    def save_task(self, task: Task) -> None:
        """Persist a change to a task already added (a cancel, a re-plan)."""

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> Iterable[Task]:
        """The account's tasks submitted in ``[since, until]``, in submission order: found in time
        proportional to their number, not the account's."""

    def list_tasks(self, account: str, query: TaskQuery) -> tuple[int, list[Task]]:
        """A task-list call's ``(total, page)`` (:mod:`mockserver.lifecycle.selection`): the count, and only the
        page's tasks read whole (the others are filtered by their briefs, never decoded)."""

    def tasks(self) -> list[Task]:
        """Every task of every account, in submission order (the inspector pages through them)."""

    def account_ids(self) -> list[str]:
        """The accounts that have tasks or run-time state, in the order they were first seen."""

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        """The lane's slots, created with ``concurrency`` slots when new (:meth:`save_lane` after a change)."""

    def save_lane(self, account: str, model: str, lane: Lane) -> None: ...

    def queue(self, account: str, model: str, now: float) -> list[Task]:
        """The lane's tasks not finished at ``now`` (neither ended nor canceled), in submission order."""

    def lanes(self, account: str | None = None) -> Iterable[tuple[tuple[str, str], Lane]]:
        """``((account, model), lane)`` of every lane (of one account)."""

    def account_state(self, account: str, *, create: bool = True) -> AccountState:
        """The account's run-time limits, quotas and usage (:meth:`save_account_state` after a change); when
        new, an empty one, kept at once with ``create``: a key that only queries costs nothing."""

    def save_account_state(self, account: str, state: AccountState) -> None: ...

    def job_book(self, account: str, concurrency: int) -> JobBook:
        """The account's fine-tune jobs and their queue, created with ``concurrency`` slots when new
        (:meth:`save_job_book` after a change)."""

    def save_job_book(self, account: str, book: JobBook) -> None: ...

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        """Count a request against ``limit`` per ``window`` seconds; False when over."""

    def put_upload(self, key: str, data: bytes, expires_at: float, now: float) -> None:
        """Keep an uploaded file (a temporary-upload object) until ``expires_at``."""

    def get_upload(self, key: str, now: float) -> bytes | None:
        """An uploaded file's bytes, or None when there is none or it has expired."""

    def drop_uploads(self, prefix: str) -> int:
        """Forget the uploaded files whose keys start with ``prefix`` (one account's folder); return how many."""

    def purge(self, before: float) -> int:
        """Forget tasks whose final state was reached before ``before``; return how many."""

    def reset(self, account: str | None = None) -> None:
        """Forget everything, or everything of one account."""

    def count(self) -> int: ...

    def export(self) -> StoreState:
        """Everything held now (call inside :meth:`transaction` and serialise before it ends)."""

    def import_(self, state: StoreState) -> None:
        """Replace everything held with ``state`` (already checked: this cannot fail half-way)."""

    def get_meta(self, name: str) -> str | None:
        """A named document that every process shares (the clock, the fault rules, the URL secret)."""

    def put_meta(self, name: str, value: str) -> None: ...

    def add_meta(self, name: str, value: str) -> str:
        """Keep ``value`` under ``name`` unless one is there already; return the one kept (first writer wins)."""

    def boot(self) -> int:
        """Count a process starting on this store: 1 for the first ever (a seeded id stream starts afresh
        only then, so restarts and workers never repeat an id)."""

    def begin_request(self) -> None:
        """A request starts: a store may serve the request's reads as of now (a cache checked once)."""

    def close(self) -> None: ...
