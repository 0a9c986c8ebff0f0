"""The job log: one JSON line when a job starts and one when its client returns.

The Locust process writes it, the ``load`` command reads it (for the progress
line while the run goes on, and for the summary). Each job's prompt carries a
marker with the run and job ids, so the tasks the emulator created can be
traced back to the job that asked for them (duplicates) without trusting the
client's own account.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

INTERRUPTED = "INTERRUPTED"  # the run ended while the client was still working on the job
_MARKER = re.compile(r"\[load (?P<run>[\w-]+) job (?P<job>[\w-]+)\]")


def marker(run_id: str, job_id: str) -> str:
    """The tag a job's prompt ends with: ``[load RUN job JOB]``."""
    return f"[load {run_id} job {job_id}]"


def job_of(prompt: Any, run_id: str) -> str | None:
    """The job id a task's prompt names, if it belongs to run ``run_id``."""
    found = _MARKER.search(prompt) if isinstance(prompt, str) else None
    return found["job"] if found and found["run"] == run_id else None


@dataclass
class Job:
    """What one job's client reported: its status, task, images and time from submit to downloaded result."""

    job_id: str
    started: float  # wall-clock epoch seconds
    ended: float | None = None
    status: str | None = None  # the client's status; INTERRUPTED; None while it runs
    task_id: str | None = None
    images: int = 0  # result URLs the client handed back
    files: int = 0  # of those, downloaded
    error: str | None = None  # the error code the client reported

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass
class JobLog:
    """Appends job events to ``path`` (one ``write`` a line, so concurrent writers never interleave)."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, job_id: str) -> float:
        now = time.time()
        self._write({"event": "start", "job": job_id, "time": now})
        return now

    def end(self, job_id: str, answer: dict, started: float) -> Job:
        """Log what the client returned (a result of the adapter contract) for ``job_id``."""
        error = answer.get("error") or {}
        job = Job(job_id, started, time.time(), str(answer.get("status")), answer.get("task_id"),
                  len(answer.get("urls") or []), len(answer.get("files") or []),
                  error.get("code") if isinstance(error, dict) else str(error))
        self._write({"event": "end", "job": job_id, "time": job.ended, "status": job.status,
                     "task_id": job.task_id, "images": job.images, "files": job.files, "error": job.error})
        return job

    def _write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)


@dataclass
class Tally:
    """Running counts of a job log being written, reading only what was added since the last look."""

    path: Path
    started: int = 0
    ended: int = 0
    succeeded: int = 0
    _offset: int = 0

    def update(self) -> "Tally":
        if not self.path.exists():
            return self
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            added = handle.read()
        complete = added[: added.rfind(b"\n") + 1]  # a line still being written waits for the next look
        self._offset += len(complete)
        for record in _parsed(complete.decode("utf-8").splitlines()):
            self.started += record["event"] == "start"
            self.ended += record["event"] == "end"
            self.succeeded += record.get("status") == "SUCCEEDED"
        return self


def read_jobs(path: Path) -> list[Job]:
    """Every job the log names, in start order; a torn last line (still being written) is skipped."""
    return list(_jobs(_records(path)).values())


def _records(path: Path) -> Iterable[dict]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        yield from _parsed(handle)


def _parsed(lines: Iterable[str]) -> Iterable[dict]:
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:  # a torn line: skipped
            continue


def _jobs(records: Iterable[dict]) -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    for record in records:
        if record.get("event") == "start":
            jobs[record["job"]] = Job(record["job"], record["time"])
        elif record.get("event") == "end" and record["job"] in jobs:
            job = jobs[record["job"]]
            job.ended, job.status, job.task_id = record["time"], record["status"], record.get("task_id")
            job.images, job.files, job.error = record.get("images", 0), record.get("files", 0), record.get("error")
    return jobs
