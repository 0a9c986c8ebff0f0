"""The load test's summary from a job log and the emulator's record, without Locust."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.lifecycle.task import Outcome, Task
from mockserver.loadtest.command import timespan
from mockserver.loadtest.jobs import INTERRUPTED, Job, JobLog, Tally, job_of, marker, read_jobs
from mockserver.loadtest.observe import Seen
from mockserver.loadtest.stages import knee, ramp
from mockserver.loadtest.summary import Limits, percentiles, summarize, table

RUN = "r1"


def _task(task_id: str, job: str, submitted: float, scheduled: float, ended: float, **plan) -> Task:
    return Task(task_id=task_id, account="acct", api_key_id="k", caller_uid="1", model="wanx-v1",
                group="text2image", function="image-synthesis", request_id="q",
                input={"prompt": f"a cat {marker(RUN, job)}"}, parameters={"n": 2}, image_count=2,
                submitted_at=submitted, pending_seconds=0, run_seconds=ended - scheduled,
                scheduled_at=scheduled, ended_at=ended, **plan)


def _seen(tasks: list[Task], statuses: list[int | None], complete: bool = True) -> Seen:
    requests = [{"seq": i, "time": 100.0 + i, "route": "submit", "status": status, "account": "acct"}
                for i, status in enumerate(statuses)]
    return Seen(requests, complete, {task.task_id: task for task in tasks},
                {task.task_id: job_of(task.input["prompt"], RUN) for task in tasks}, 100.0, 160.0)


def test_only_successes_the_emulator_confirms_count():
    tasks = [_task("t1", "1-1", 100, 101, 111),
             _task("t2", "1-2", 100, 111, 121, failure=Outcome("InternalError", "boom")),  # ended FAILED
             _task("t3", "2-1", 100, 121, 131, image_failures={1: Outcome("DataInspectionFailed", "x")}),
             _task("t4", "2-2", 100, 131, 999)]  # still running when the run ended
    jobs = [Job("1-1", 0, 12, "SUCCEEDED", "t1", 2), Job("1-2", 0, 22, "SUCCEEDED", "t2", 2),
            Job("2-1", 0, 32, "SUCCEEDED", "t3", 1), Job("2-2", 0, 40, "SUCCEEDED", "t4", 2),
            Job("3-1", 0, 5, "SUCCEEDED", "t1", 2)]  # another job's task
    summary = summarize(jobs, _seen(tasks, [200, 200, 429, 429, 500, None]), Limits(2, 1, 2),
                        timeout_seconds=600)
    assert summary["jobs_succeeded"] == 2 and summary["jobs_failed"] == 3
    assert summary["checks"]["client_reported_succeeded"] == 5
    assert summary["images"] == 3  # t1's two, t3's one that passed
    assert summary["throttled"] == 2 and summary["wasted_requests"] == 4 and summary["requests"] == 6
    assert summary["task_seconds"] == {"p50": 12, "p95": 32, "max": 32}
    assert summary["run_seconds"] == {"p50": 10, "p95": 10, "max": 10}  # t4 had not ended
    assert summary["goodput_images_per_minute"] == 3.0  # three images in the run's 60 s
    assert summary["limit_images_per_minute"] == 12.0  # one slot, 10 s a task, two images a task


def test_duplicates_lost_and_interrupted_jobs():
    tasks = [_task("a", "1-1", 100, 101, 102), _task("b", "1-1", 100, 102, 103), _task("c", "1-1", 100, 103, 104),
             _task("d", "1-2", 100, 104, 105)]
    jobs = [Job("1-1", 0, 2, "SUCCEEDED", "c", 2), Job("1-2", 0),  # never returned
            Job("1-3", 0, 5, INTERRUPTED), Job("1-4", 0, 900, INTERRUPTED)]  # cut short; past its timeout: lost
    summary = summarize(jobs, _seen(tasks, [200]), Limits(2, 1, 2), timeout_seconds=600)
    assert summary["duplicates"] == 2 and summary["tasks"] == 4
    assert summary["jobs_lost"] == 2 and summary["jobs_interrupted"] == 1
    assert summary["jobs_succeeded"] == 1 and summary["jobs_failed"] == 0
    assert "journal complete" in table(summary)
    assert "INCOMPLETE" in table(summarize(jobs, _seen(tasks, [200], complete=False), Limits(2, 1, 2),
                                           timeout_seconds=600))


def test_limits_and_percentiles():
    assert Limits(2, 1, 4).images_per_minute(None) == 480  # tasks end at once: the submit rate bounds
    assert Limits(2, 1, 4).images_per_minute(30) == 8  # one slot, 30 s a task
    assert Limits(2, 1, 1, accounts=3).images_per_minute(0.25) == 360
    assert percentiles([]) == {"p50": None, "p95": None, "max": None}
    assert percentiles(range(1, 101)) == {"p50": 50, "p95": 95, "max": 100}


def test_the_job_log_reads_back_what_was_written(tmp_path: Path):
    path = tmp_path / "jobs.jsonl"
    log, tally = JobLog(path), Tally(path)
    started = log.start("1-1")
    log.start("1-2")
    log.end("1-1", {"task_id": "t", "status": "FAILED", "urls": [], "error": {"code": "InternalError"}}, started)
    ending = '{"event":"end","job":"1-2","time":9,"status":"SUCCEEDED","task_id":"u","images":1}\n'
    with open(path, "a") as handle:
        handle.write(ending[:20])  # a line still being written
    assert (tally.update().started, tally.ended, tally.succeeded) == (2, 1, 0)
    assert read_jobs(path)[1].status is None
    with open(path, "a") as handle:
        handle.write(ending[20:])
    assert (tally.update().started, tally.ended, tally.succeeded) == (2, 2, 1)
    first, second = read_jobs(path)
    assert (first.status, first.task_id, first.error) == ("FAILED", "t", "InternalError")
    assert (second.status, second.task_id, second.images) == ("SUCCEEDED", "u", 1)
    assert job_of(f"x {marker('r9', '3-4')}", "r9") == "3-4" and job_of(f"x {marker('r8', '3-4')}", "r9") is None


def test_ramp_knee_and_durations():
    assert ramp(200) == [40, 80, 120, 160, 200] and ramp(3) == [1, 2, 2, 3, 3]
    steps = [{"users": 40, "requests_per_second": 100}, {"users": 80, "requests_per_second": 190},
             {"users": 120, "requests_per_second": 200}, {"users": 160, "requests_per_second": 195}]
    assert knee(steps) == 80 and knee([]) is None
    assert [timespan(text) for text in ("90", "90s", "2m", "1h30m")] == [90, 90, 120, 5400]
    with pytest.raises(Exception):
        timespan("soon")
