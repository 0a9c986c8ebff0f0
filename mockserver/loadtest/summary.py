"""``summary.json`` and the table printed at the end of a run.

The client's reports (the job log) are checked against the emulator's record
(:class:`.observe.Seen`): a job counts as succeeded only when the emulator
really ended its task SUCCEEDED; requests and 429s are the journal's counts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from ..lifecycle.task import SUCCEEDED, Task
from .jobs import INTERRUPTED, Job
from .observe import Seen


@dataclass(frozen=True)
class Limits:
    """What the account's limits allow, and how many accounts share the load."""

    submit_per_second: float
    concurrency: int
    images_per_job: int
    accounts: int = 1

    def images_per_minute(self, run_seconds: float | None) -> float:
        """The most images a minute the limits allow: the submit rate, or the slots when tasks run long."""
        tasks_per_second = self.submit_per_second
        if run_seconds:
            tasks_per_second = min(tasks_per_second, self.concurrency / run_seconds)
        return 60 * tasks_per_second * self.images_per_job * self.accounts


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    """``{p50, p95, max}`` by nearest rank; None when there is nothing to rank."""
    ranked = sorted(values)
    if not ranked:
        return {"p50": None, "p95": None, "max": None}

    def rank(share: float) -> float:
        return round(ranked[max(0, math.ceil(share * len(ranked)) - 1)], 3)

    return {"p50": rank(0.50), "p95": rank(0.95), "max": round(ranked[-1], 3)}


def summarize(jobs: list[Job], seen: Seen, limits: Limits, *, timeout_seconds: float,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's figures, each from the emulator where it has them."""
    interrupted = [job for job in jobs if job.status == INTERRUPTED and (job.seconds or 0) <= timeout_seconds]
    lost = [job for job in jobs if job.status is None or (job.status == INTERRUPTED and job not in interrupted)]
    reported = [job for job in jobs if job.status not in (None, INTERRUPTED)]
    succeeded = [job for job in reported if _confirmed(job, seen)]
    tasks_per_job = Counter(seen.jobs_of_tasks.values())
    statuses = Counter(entry["status"] for entry in seen.requests)
    done = [task for task in seen.tasks.values() if task.canceled_at is None and task.ended_at <= seen.ended]
    run_seconds = [task.ended_at - task.scheduled_at for task in done]
    images = sum(_images(seen.tasks[job.task_id]) for job in succeeded if job.task_id)
    minutes = max(seen.ended - seen.started, 1e-9) / 60
    allowed = limits.images_per_minute(sum(run_seconds) / len(run_seconds) if run_seconds else None)
    goodput = images / minutes
    return {
        **(extra or {}),
        "jobs_started": len(jobs),
        "jobs_succeeded": len(succeeded),
        "jobs_failed": len(reported) - len(succeeded),
        "jobs_lost": len(lost),
        "jobs_interrupted": len(interrupted),
        "duplicates": sum(count - 1 for count in tasks_per_job.values()),
        "tasks": len(seen.tasks),
        "requests": len(seen.requests),
        "throttled": statuses[429],
        "wasted_requests": sum(count for status, count in statuses.items() if status is None or status >= 400),
        "requests_by_route": dict(Counter(entry["route"] for entry in seen.requests)),
        "errors": dict(Counter(job.error or job.status for job in reported if job not in succeeded)),
        "task_seconds": percentiles(job.seconds for job in succeeded if job.seconds is not None),
        "queue_seconds": percentiles(task.scheduled_at - task.submitted_at for task in done),
        "run_seconds": percentiles(run_seconds),
        "images": images,
        "emulated_seconds": round(seen.ended - seen.started, 3),
        "goodput_images_per_minute": round(goodput, 2),
        "limit_images_per_minute": round(allowed, 2),
        "goodput_share": round(goodput / allowed, 3) if allowed else None,
        "checks": {
            "journal_complete": seen.complete,
            "client_reported_succeeded": sum(job.status == SUCCEEDED for job in reported),
            "emulator_confirmed_succeeded": len(succeeded),
            "submits_accepted": sum(1 for e in seen.requests if e["route"] == "submit" and e["status"] == 200),
        },
    }


def _confirmed(job: Job, seen: Seen) -> bool:
    """The client said SUCCEEDED and the emulator ended that task of this job SUCCEEDED."""
    task = seen.tasks.get(job.task_id or "")
    return (job.status == SUCCEEDED and task is not None and seen.jobs_of_tasks[task.task_id] == job.job_id
            and task.final_status() == SUCCEEDED and task.ended_at <= seen.ended)


def _images(task: Task) -> int:
    return task.image_count - len(task.image_failures)


def table(summary: dict[str, Any]) -> str:
    """The summary as a few lines a person reads at the end of a run."""
    def seconds(figures: dict[str, float | None]) -> str:
        return "  ".join(f"{name} {'-' if value is None else f'{value:.2f} s'}" for name, value in figures.items())

    checks = summary["checks"]
    share = summary["goodput_share"]
    lines = [
        f"{summary.get('profile', 'load')}: client {summary.get('client', '-')}, {summary.get('model', '-')}, "
        f"{summary.get('users', '?')} users, {summary['emulated_seconds']:.0f} s on the emulator's clock",
        f"  jobs       started {summary['jobs_started']}  succeeded {summary['jobs_succeeded']}  "
        f"failed {summary['jobs_failed']}  lost {summary['jobs_lost']}  interrupted {summary['jobs_interrupted']}  "
        f"duplicates {summary['duplicates']}",
        f"  requests   {summary['requests']}  429s {summary['throttled']}  wasted {summary['wasted_requests']}  "
        + "  ".join(f"{route} {count}" for route, count in sorted(summary["requests_by_route"].items())),
        f"  job time   {seconds(summary['task_seconds'])}   (submit to downloaded result)",
        f"  queue      {seconds(summary['queue_seconds'])}   run {seconds(summary['run_seconds'])}",
        f"  goodput    {summary['goodput_images_per_minute']:.1f} images/min of {summary['limit_images_per_minute']:.1f}"
        f" the limits allow" + (f" ({share:.0%})" if share is not None else ""),
        f"  checked    {checks['emulator_confirmed_succeeded']} of {checks['client_reported_succeeded']} reported "
        f"successes confirmed by the emulator; journal {'complete' if checks['journal_complete'] else 'INCOMPLETE (raise journal_size)'}",
    ]
    if summary["errors"]:
        lines.append("  errors     " + "  ".join(f"{code} {count}" for code, count in sorted(summary["errors"].items())))
    return "\n".join(lines) + "\n"
