"""The store interface: where tasks, queues and rate windows live.

Routes and the lifecycle talk only to this interface, so a durable
single-file store or one shared by several processes can replace the
in-memory one without touching them. Every method is called inside
:meth:`Store.transaction`, which makes a submit (throttle, queue, insert)
atomic.
"""

from __future__ import annotations

import math

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from ..domain.account_state import AccountState
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.task import Task


@dataclass
class StoreState:
    """Everything a store holds, as plain objects: what a snapshot saves and a restore loads.

    A lane's ``tasks`` are the very objects of ``tasks``, in queue order.
    """

    tasks: list[Task] = field(default_factory=list)  # in submission order
    lanes: dict[tuple[str, str], Lane] = field(default_factory=dict)  # (account, model)
    windows: dict[str, tuple[int, list[float]]] = field(default_factory=dict)  # rate key: (limit, hit times)
    uploads: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # key: (bytes, expires at)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    job_books: dict[str, JobBook] = field(default_factory=dict)  # account: its fine-tune jobs


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """Hold the store for a sequence of calls that must not interleave."""

    def add_task(self, task: Task) -> None: ...

    def get_task(self, task_id: str) -> Task | None: ...

    def save_task(self, task: Task) -> None:
        """Persist a change to a task already added (a cancel, a re-plan)."""

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> Iterable[Task]:
        """The account's tasks submitted in ``[since, until]``, in submission order: found in time
        proportional to their number, not the account's."""

    def tasks(self) -> list[Task]:
        """Every task of every account, in submission order (the inspector pages through them)."""

    def account_ids(self) -> list[str]:
        """The accounts that have tasks or run-time state, in the order they were first seen."""

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        """The lane's queue state, created with ``concurrency`` slots when new."""

    def lanes(self, account: str | None = None) -> Iterable[Lane]: ...

    def account_state(self, account: str, *, create: bool = True) -> AccountState:
        """The account's run-time limits, quotas and usage, changed in place; when new, created empty and
        kept (``create``) or, for a read, a blank one that is not kept: a key that only queries costs nothing."""

    def job_book(self, account: str, concurrency: int) -> JobBook:
        """The account's fine-tune jobs and their queue (created with ``concurrency`` slots when new); changed in place."""

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
