"""The emulator's state as one JSON document, and back: ``GET``/``PUT /__mock/state``.

A snapshot holds what a restarted emulator needs to answer exactly as before:
the tasks with their plans, the queues (lanes) in order, the rate windows, the
uploads, the accounts' run-time limits and usage, the fine-tune jobs and
their queues, the clock, the id
generator, the fault rules with their counters, and the secret that signs
result URLs (so URLs handed out before stay valid). Settings are not in it
(they are the process's configuration), nor is the request journal.

A restore is all or nothing: the whole document is checked first, and only
then does anything change. The format is versioned (``"version": 1``).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..faults.rules import Rule
from ..lifecycle.job import Job, JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.task import Task
from ..results.names import is_task_id
from ..store import StoreState
from .account_state import AccountState
from .clock import LATEST, MAX_RATE
from .ids import generator_at

if TYPE_CHECKING:
    from .emulator import Emulator

VERSION = 1
_TASK = TypeAdapter(Task)
_ACCOUNT = TypeAdapter(AccountState)
_JOB = TypeAdapter(Job)


class SnapshotError(ValueError):
    """The document cannot be restored; the message says why. Nothing was changed."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Clock(_Doc):
    mode: Literal["real", "scaled", "manual"]
    rate: float = Field(gt=0, le=MAX_RATE, allow_inf_nan=False)
    now: float = Field(ge=0, le=LATEST, allow_inf_nan=False)


class _ArmedRule(_Doc):
    id: int = Field(ge=1)
    seen: int = Field(ge=0)
    fired: int = Field(ge=0)
    rule: Rule


class _Faults(_Doc):
    next_id: int = Field(ge=1)
    random: list[int]
    rules: list[_ArmedRule]


class _Lane(_Doc):
    account: str
    model: str
    concurrency: int = Field(ge=1)
    slots: list[float | None]  # when each slot frees up; null: free
    tasks: list[str]  # task ids, in queue order


class _Window(_Doc):
    limit: int = Field(ge=1)
    hits: list[float]


class _JobBook(_Doc):
    concurrency: int = Field(ge=1)
    slots: list[float | None]  # as a lane's
    jobs: list[Job]  # in creation order
    queue: list[str]  # job ids, in queue order


class _Upload(_Doc):
    data: str  # base64
    expires_at: float


class _Snapshot(_Doc):
    version: Literal[1]
    clock: _Clock
    ids: list[int] | None  # null: ids come from the OS's randomness
    url_secret: str = Field(min_length=1)
    faults: _Faults
    tasks: list[Task]
    lanes: list[_Lane]
    windows: dict[str, _Window]
    uploads: dict[str, _Upload]
    accounts: dict[str, AccountState]
    job_books: dict[str, _JobBook] = Field(default_factory=dict)  # account: its fine-tune jobs


def export(emulator: Emulator) -> dict[str, Any]:
    """The whole state now, as a JSON-ready document."""
    with emulator.store.transaction():
        state = emulator.store.export()
        now = emulator.clock.now()
        queued: dict[tuple[str, str], list[str]] = {}
        for task in state.tasks:  # in submission order: a lane's queue order
            if not task.call and task.canceled_at is None and task.ended_at > now:
                queued.setdefault(task.lane, []).append(task.task_id)
        return {
            "version": VERSION,
            "clock": emulator.clock.describe(),
            "ids": emulator.ids.state(),
            "url_secret": emulator.signer.secret.decode(),
            "faults": emulator.faults.rules.export(),
            "tasks": [_TASK.dump_python(task, mode="json") for task in state.tasks],
            "lanes": [
                {
                    "account": account,
                    "model": model,
                    "concurrency": lane.concurrency,
                    "slots": _slots_out(lane),
                    "tasks": queued.get((account, model), []),
                }
                for (account, model), lane in state.lanes.items()
            ],
            "windows": {key: {"limit": limit, "hits": hits} for key, (limit, hits) in state.windows.items()},
            "uploads": {
                key: {"data": base64.b64encode(data).decode(), "expires_at": expires_at}
                for key, (data, expires_at) in state.uploads.items()
            },
            "accounts": {key: _ACCOUNT.dump_python(account, mode="json") for key, account in state.accounts.items()},
            "job_books": {
                account: {
                    "concurrency": book.lane.concurrency,
                    "slots": _slots_out(book.lane),
                    "jobs": [_JOB.dump_python(job, mode="json") for job in book.jobs.values()],
                    "queue": [job.job_id for job in book.jobs.values() if job.canceled_at is None and job.ended_at > now],
                }
                for account, book in state.job_books.items()
            },
        }


def restore(emulator: Emulator, document: Any) -> dict[str, int]:
    """Replace the emulator's state with ``document``'s; raise :class:`SnapshotError` (changing nothing) if it is bad."""
    doc = _parse(document)
    rules = _rules(emulator, doc.faults)
    faults_random = _generator(doc.faults.random, "faults.random")
    if doc.ids is not None:
        _generator(doc.ids, "ids")
    state = _store_state(emulator, doc)
    with emulator.store.transaction():  # nothing below can fail
        emulator.store.import_(state)
        emulator.clock.restore(doc.clock.mode, doc.clock.rate, doc.clock.now)
        emulator.ids.restore(doc.ids)
        emulator.faults.rules.restore(rules, doc.faults.next_id, faults_random)
        if doc.url_secret.encode() != emulator.signer.secret:
            emulator.sign_with(doc.url_secret.encode())
    return {"tasks": len(state.tasks), "lanes": len(state.lanes), "uploads": len(state.uploads),
            "accounts": len(state.accounts), "rules": len(rules),
            "jobs": sum(len(book.jobs) for book in state.job_books.values())}


def _parse(document: Any) -> _Snapshot:
    if not isinstance(document, dict):
        raise SnapshotError("a snapshot is a JSON object, as GET /__mock/state gives")
    if document.get("version") != VERSION:
        raise SnapshotError(f"unsupported snapshot version {document.get('version')!r}: this emulator reads version {VERSION}")
    try:
        return _Snapshot.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'snapshot'}: {e['msg']}" for e in error.errors()[:5])
        raise SnapshotError(problems) from None


def _generator(state: list[int], where: str) -> Any:
    try:
        return generator_at(state)
    except ValueError as error:
        raise SnapshotError(f"{where}: {error}") from None


def _rules(emulator: Emulator, faults: _Faults) -> list[tuple[int, int, int, Rule]]:
    ids = [armed.id for armed in faults.rules]
    if len(set(ids)) != len(ids) or any(rule_id >= faults.next_id for rule_id in ids):
        raise SnapshotError("faults: rule ids must be distinct and below next_id")
    for armed in faults.rules:
        try:
            armed.rule.check(emulator.catalog.errors)
        except ValueError as error:
            raise SnapshotError(f"faults: rule {armed.id}: {error}") from None
    return [(armed.id, armed.seen, armed.fired, armed.rule) for armed in faults.rules]


def _store_state(emulator: Emulator, doc: _Snapshot) -> StoreState:
    models = emulator.catalog.models
    tasks: dict[str, Task] = {}
    for task in doc.tasks:
        if task.task_id in tasks:
            raise SnapshotError(f"tasks: task {task.task_id} appears twice")
        if not is_task_id(task.task_id):  # result object names are derived from it (mockserver.results.names)
            raise SnapshotError(f"tasks: task id {task.task_id!r} is not a lower-case UUID4")
        if task.model not in models:
            raise SnapshotError(f"tasks: task {task.task_id} names unknown model {task.model!r}")
        if task.image_count < 1:
            raise SnapshotError(f"tasks: task {task.task_id} has no images")
        times = [task.submitted_at, task.pending_seconds, task.run_seconds, task.scheduled_at, task.ended_at]
        if not all(math.isfinite(t) for t in times + [task.canceled_at or 0.0]):
            raise SnapshotError(f"tasks: task {task.task_id} has a time that is not a finite number")
        tasks[task.task_id] = task
    lanes: dict[tuple[str, str], Lane] = {}
    queued: set[str] = set()
    for lane in doc.lanes:
        key = (lane.account, lane.model)
        if key in lanes or lane.model not in models:
            raise SnapshotError(f"lanes: lane {key} is repeated or names an unknown model")
        if len(lane.slots) != lane.concurrency:
            raise SnapshotError(f"lanes: lane {key} has {len(lane.slots)} slots for concurrency {lane.concurrency}")
        for task_id in lane.tasks:  # checked, though a store finds a lane's queue among its tasks
            task = tasks.get(task_id)
            if task is None or task.lane != key or task_id in queued:
                raise SnapshotError(f"lanes: lane {key} queues task {task_id}, which is not one of its tasks")
            queued.add(task_id)
        lanes[key] = Lane(lane.concurrency, _slots_in(lane.slots, f"lanes: lane {key}"))
    for owner, account in doc.accounts.items():
        unknown = [m for m in [*account.models, *account.used] if m != "*" and m not in models]
        if unknown:
            raise SnapshotError(f"accounts: account {owner} names unknown model {unknown[0]!r}")
    uploads = {}
    for key, upload in doc.uploads.items():
        try:
            uploads[key] = (base64.b64decode(upload.data, validate=True), upload.expires_at)
        except (binascii.Error, ValueError):
            raise SnapshotError(f"uploads: {key}: data is not base64") from None
    return StoreState(
        job_books={account: _job_book(account, book) for account, book in doc.job_books.items()},
        tasks=list(tasks.values()),
        lanes=lanes,
        windows={key: (window.limit, window.hits[-window.limit:]) for key, window in doc.windows.items()},
        uploads=uploads,
        accounts=dict(doc.accounts),
    )


def _job_book(account: str, book: _JobBook) -> JobBook:
    where = f"job_books: account {account}"
    if len(book.slots) != book.concurrency:
        raise SnapshotError(f"{where} has {len(book.slots)} slots for concurrency {book.concurrency}")
    jobs: dict[str, Job] = {}
    for job in book.jobs:
        times = [job.submitted_at, job.pending_seconds, job.run_seconds, job.scheduled_at, job.ended_at]
        if job.job_id in jobs or job.account != account or not all(math.isfinite(t) for t in times + [job.canceled_at or 0.0]):
            raise SnapshotError(f"{where}: job {job.job_id} is repeated, another account's, or has a time that is not finite")
        jobs[job.job_id] = job
    if len(set(book.queue)) != len(book.queue) or not set(book.queue) <= set(jobs):
        raise SnapshotError(f"{where}: the queue names a job twice or one that is not in its jobs")
    return JobBook(Lane(book.concurrency, _slots_in(book.slots, where)), jobs)


def _slots_out(lane: Lane) -> list[float | None]:
    """A lane's slots as the document has them: one per slot, null when free."""
    return sorted(lane.slots) + [None] * (lane.concurrency - len(lane.slots))


def _slots_in(slots: list[float | None], where: str) -> list[float]:
    """A lane's heap of busy slots from a document's slots (null: a free slot)."""
    if not all(slot is None or math.isfinite(slot) for slot in slots):
        raise SnapshotError(f"{where} has a slot time that is not a finite number (null: free)")
    heap = [slot for slot in slots if slot is not None]
    heapq.heapify(heap)
    return heap
