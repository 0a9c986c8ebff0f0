"""The fine-tunes API (``/api/v1/fine-tunes``): create, read, list and cancel training jobs.

A job is planned when it is created (its wait, its training time, its place
in the account's queue) and read as a pure function of that plan and the
clock, like a task. The create answer and the job view keep the documented
key order; ``finetuned_output`` (``<model>-<job_id>``) is the resource id a
facechain-generation task names in ``resources``.

Decisions (no capture exists): an unknown or another account's job id is
404 ``NotFound``; a broken create body is 400 ``InvalidParameter`` naming the
field; cancelling a finished job is 400 ``UnsupportedOperation``; a cancel
answers ``{"status": "CANCELED"}``; ``finetuned_output`` shows from creation
(as the create example does) and is dropped once the job is CANCELED (as the
list example shows); training files are not fetched, any non-empty string
(an image URL or a file id) is accepted.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Mapping

from ..catalog import Catalog
from ..catalog.finetune import FineTuneEntry
from ..lifecycle.job import TERMINAL, Job, JobBook
from ..lifecycle.planner import draw_durations
from ..lifecycle.task import CANCELED
from ..settings.config import Settings
from ..store import Store
from ..support.parsing import json_object, page_number
from ..support.timefmt import CHINA, task_time_seconds
from .accounts import Account
from .clock import Clock
from .errors import ApiError
from .ids import IdFactory

_MAX_PAGE_SIZE = 100
MAX_ID_CHARS = 2048  # a training or validation file id (a URL or a file id); no real URL comes near it
MAX_HYPER_CHARS = 4096  # hyper_parameters as compact JSON: a job keeps it as long as the account keeps the job


class FineTuneJobs:
    """The account's fine-tune jobs, over the emulator's one clock and store."""

    def __init__(self, catalog: Catalog, store: Store, clock: Clock, ids: IdFactory, settings: Settings) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.ids = ids
        self.settings = settings
        # One queue per account for all its jobs, with the strictest documented limit (1).
        self._concurrency = min((entry.limits.concurrency for entry in catalog.fine_tunes.values()), default=1)

    def create(self, account: Account, body: bytes) -> dict[str, Any]:
        """Check the body, plan the job and queue it; the create answer's ``output``."""
        payload = json_object(body)
        entry = self._entry(payload.get("model"))
        files = _strings(payload.get("training_file_ids"), "training_file_ids")
        if not entry.training_files.min_items <= len(files) <= entry.training_files.max_items:
            raise ApiError("InvalidParameter", message=(
                f"training_file_ids must hold {entry.training_files.min_items} to "
                f"{entry.training_files.max_items} image URLs or file ids."))
        validation = _strings(payload.get("validation_file_ids") or [], "validation_file_ids")
        if len(validation) > entry.training_files.max_items:
            raise ApiError("InvalidParameter", message=(
                f"validation_file_ids must hold at most {entry.training_files.max_items} image URLs or file ids."))
        hyper = payload.get("hyper_parameters") or {}
        if not isinstance(hyper, dict):
            raise ApiError("InvalidParameter", message="hyper_parameters must be an object.")
        if len(json.dumps(hyper, separators=(",", ":"))) > MAX_HYPER_CHARS:
            raise ApiError("InvalidParameter", message=f"hyper_parameters must be at most {MAX_HYPER_CHARS} characters as JSON.")
        training_type = payload.get("training_type") or entry.training_type
        if not isinstance(training_type, str):
            raise ApiError("InvalidParameter", message="training_type must be a string.")
        with self.store.transaction():
            now = self.clock.now()
            if not self.store.hit(f"{account.id}|submit|{entry.name}", entry.limits.submit_per_second, 1.0, now):
                raise ApiError("Throttling.RateQuota")
            book = self._book(account)
            rng = self.ids.derive("fine-tune", account.id)
            stamp = datetime.fromtimestamp(now, CHINA).strftime("%Y%m%d%H%M")
            job_id = f"ft-{stamp}-{rng.getrandbits(16):04x}"
            while job_id in book.jobs:
                job_id = f"ft-{stamp}-{rng.getrandbits(16):04x}"
            pending, running = draw_durations(entry.timing, 1, self.settings.speed, rng)
            job = Job(job_id, account.id, account.uid, entry.name, files, validation, hyper, training_type,
                      submitted_at=now, pending_seconds=pending, run_seconds=running)
            book.lane.schedule(job, now)  # type: ignore[arg-type]  # a Job has the plan fields a lane uses
            book.jobs[job_id] = job
            _forget_oldest(book, self.settings.fine_tune_jobs_kept, now)
            self.store.save_job_book(account.id, book)
            return self._view(job, entry, now)

    def get(self, account: Account, job_id: str) -> dict[str, Any]:
        job = self._owned(account, job_id)
        return self._view(job, self.catalog.fine_tunes[job.model], self.clock.now())

    def cancel(self, account: Account, job_id: str) -> dict[str, Any]:
        """Cancel a job still PENDING or RUNNING; the jobs queued behind it move up."""
        with self.store.transaction():
            book = self._book(account)
            job = self._owned(account, job_id, book)
            now = self.clock.now()
            if job.status_at(now) in TERMINAL:
                raise ApiError("UnsupportedOperation")
            job.canceled_at = now
            book.lane.replan(now, book.jobs.values())  # type: ignore[arg-type]  # the jobs queue as tasks do
            self.store.save_job_book(account.id, book)
        return {"status": CANCELED}

    def list(self, account: Account, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of the account's jobs, newest first, optionally of one model."""
        page_no = page_number(query.get("page_no"), 1)
        page_size = page_number(query.get("page_size"), 10)
        if page_size > _MAX_PAGE_SIZE:
            raise ApiError("InvalidParameter", "list_paging")
        model = query.get("model")
        now = self.clock.now()
        with self.store.transaction():
            jobs = [job for job in reversed(self._book(account).jobs.values()) if model in (None, "", job.model)]
        page = jobs[(page_no - 1) * page_size : page_no * page_size]
        views = [self._view(job, self.catalog.fine_tunes[job.model], now) for job in page]
        return {"page_no": page_no, "page_size": page_size, "total": len(jobs), "jobs": views}

    def _book(self, account: Account) -> JobBook:
        return self.store.job_book(account.id, self._concurrency)

    def _owned(self, account: Account, job_id: str, book: JobBook | None = None) -> Job:
        job = (book or self._book(account)).jobs.get(job_id)
        if job is None:
            raise ApiError("NotFound")
        return job

    def _entry(self, name: Any) -> FineTuneEntry:
        if name is None or name == "":
            raise ApiError("BadRequest.EmptyModel")
        entry = self.catalog.fine_tunes.get(name) if isinstance(name, str) else None
        if entry is None:
            raise ApiError("InvalidParameter", "model_not_exist")
        return entry

    def _view(self, job: Job, entry: FineTuneEntry, now: float) -> dict[str, Any]:
        """The job object, keys in the documented order."""
        status = job.status_at(now)
        view: dict[str, Any] = {"job_id": job.job_id, "job_name": job.job_id, "status": status}
        if status != CANCELED:
            view["finetuned_output"] = f"{job.model}-{job.job_id}"
        view.update(
            model=job.model,
            base_model=job.model,
            training_file_ids=list(job.training_file_ids),
            validation_file_ids=list(job.validation_file_ids),
            hyper_parameters=dict(job.hyper_parameters),
            training_type=job.training_type,
            create_time=task_time_seconds(job.submitted_at),
            workspace_id="llm-" + hashlib.sha256(job.account.encode()).hexdigest()[:14],
            user_identity=job.caller_uid,
            modifier=job.caller_uid,
            creator=job.caller_uid,
        )
        finished = job.finished_at(now)
        if finished is not None:
            view["end_time"] = task_time_seconds(finished)
        view.update(group=entry.group, model_name=job.job_id, max_output_cnt=1)
        return view



def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ApiError("InvalidParameter", message=f"{name} must be a list of image URLs or file ids.")
    if any(len(item) > MAX_ID_CHARS for item in value):
        raise ApiError("InvalidParameter", message=f"{name} must hold image URLs or file ids of at most {MAX_ID_CHARS} characters.")
    return list(value)


def _forget_oldest(book: JobBook, kept: int, now: float) -> None:
    """Keep the book within ``kept`` jobs (``fine_tune_jobs_kept``, a decision: the real service's retention is
    not documented): the oldest finished jobs go first, then the oldest of all. A forgotten job reads 404 and
    leaves the list; the jobs queued behind it keep their plan."""
    excess = len(book.jobs) - kept
    if excess <= 0:
        return
    for job_id in [job_id for job_id, job in book.jobs.items() if job.finished_at(now) is not None][:excess]:
        del book.jobs[job_id]
    for job_id in list(book.jobs)[: len(book.jobs) - kept]:
        del book.jobs[job_id]
