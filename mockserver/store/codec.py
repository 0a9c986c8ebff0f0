"""The records a durable or shared store keeps, as JSON text, and back.

One codec for every store that leaves the process (SQLite, Redis), so a task
reads back field for field as it was written: the restarted emulator answers
it byte for byte as before. Tasks and accounts go through pydantic's
compiled serialisers, which write floats exactly.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from ..domain.account_state import AccountState
from ..lifecycle.job import Job, JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.task import NOTHING, Task

_TASK = TypeAdapter(Task)
_ACCOUNT = TypeAdapter(AccountState)
_JOBS = TypeAdapter(list[Job])


def dump_task(task: Task) -> str:
    try:
        return _TASK.dump_json(task).decode()
    except PydanticSerializationError:  # a lone surrogate in a prompt (JSON allows "\ud800"): the stdlib escapes it
        return json.dumps(_TASK.dump_python(task, mode="json"))


def load_task(text: str | bytes) -> Task:
    try:
        task = _TASK.validate_json(text)
    except ValidationError:  # pydantic's parser refuses the escaped lone surrogates the stdlib wrote
        task = _TASK.validate_python(json.loads(text))
    if not task.image_failures:  # share the one empty mapping, as a new task does (mockserver.lifecycle.task)
        task.image_failures = NOTHING
    if not task.extra:
        task.extra = NOTHING
    return task


def dump_account(state: AccountState) -> str:
    return _ACCOUNT.dump_json(state).decode()


def load_account(text: str | bytes) -> AccountState:
    return _ACCOUNT.validate_json(text)


def dump_lane(lane: Lane) -> str:
    return json.dumps([lane.concurrency, lane.slots])  # a heap stays a heap


def load_lane(text: str | bytes) -> Lane:
    concurrency, slots = json.loads(text)
    return Lane(concurrency, slots)


def dump_job_book(book: JobBook) -> str:
    jobs = _JOBS.dump_python(list(book.jobs.values()), mode="json")
    return json.dumps({"lane": json.loads(dump_lane(book.lane)), "jobs": jobs})


def load_job_book(text: str | bytes) -> JobBook:
    data = json.loads(text)
    jobs = _JOBS.validate_python(data["jobs"])
    return JobBook(load_lane(json.dumps(data["lane"])), {job.job_id: job for job in jobs})

