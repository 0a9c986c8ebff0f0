"""What both Locust profiles share: their command-line options, the job log, and task metrics as Locust events.

Imports Locust (and so gevent): only locustfiles import this module.
Task-level figures go through ``events.request`` under the request type
``JOB``, so they land in Locust's tables, CSVs and charts next to the HTTP
requests: ``submit→result`` (one job, wall clock), ``queue wait`` and ``run
time`` (emulator clock, read from the task's timeline), and one ``429 seen``
per throttled answer the journal recorded.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import gevent
import httpx
from locust import events
from locust.env import Environment

from .jobs import Job, JobLog

JOB = "JOB"  # the request type of task-level entries
POLL_JOURNAL_SECONDS = 1.0
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury Locust's own


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("dashscope-mock")
    group.add_argument("--model", default="wanx-v1", env_var="LOCUST_MODEL", help="the model every job asks for")
    group.add_argument("--images", type=int, default=1, env_var="LOCUST_IMAGES", help="n: images a job asks for")
    group.add_argument("--api-key", default="sk-load", env_var="LOCUST_API_KEY",
                       help="retry: the one key every user shares; capacity: the prefix of each user's own key")
    group.add_argument("--client", default="sdk", env_var="LOCUST_CLIENT",
                       help="retry: sdk, naive, reference, or module:function")
    group.add_argument("--job-timeout", type=float, default=600, env_var="LOCUST_JOB_TIMEOUT",
                       help="timeout_seconds given to the client")
    group.add_argument("--jobs-file", default="", env_var="LOCUST_JOBS_FILE",
                       help="append one JSON line per job start and end here (dashscope-mock load reads it)")
    group.add_argument("--run-id", default="", env_var="LOCUST_RUN_ID",
                       help="the tag in every job's prompt (default: a random one)")


@events.init.add_listener
def _fresh_clock(**_: Any) -> None:
    """Bring gevent's loop clock up to date before Locust arms its ``--run-time`` timer.

    The loop reads the time only when it turns, and it has not turned while
    the locustfile and its imports loaded (seconds on a busy machine): a timer
    armed on that stale clock fires that much early, and a 3 s run ended
    before its first user started.
    """
    gevent.get_hub().loop.update_now()


def options(environment: Environment) -> Any:
    """The parsed options, with a run id chosen once per process when none was given."""
    parsed = environment.parsed_options
    if not parsed.run_id:
        parsed.run_id = uuid.uuid4().hex[:8]
    return parsed


def job_log(environment: Environment) -> JobLog:
    path = options(environment).jobs_file
    return JobLog(Path(path) if path else Path(os.devnull))


def control(environment: Environment) -> httpx.Client:
    """A client of the emulator's control plane (``/__mock/``), which the journal does not record."""
    return httpx.Client(base_url=(environment.host or "").rstrip("/"), timeout=30)


def report_job(environment: Environment, job: Job, succeeded: bool) -> None:
    """One ``submit→result`` entry; a job that did not succeed is a failure with its error code."""
    failure = None if succeeded else RuntimeError(job.error or job.status or "no result")
    environment.events.request.fire(request_type=JOB, name="submit→result", response_time=1000 * (job.seconds or 0),
                                    response_length=job.files, exception=failure, context={})


def report_task_times(environment: Environment, http: httpx.Client, task_id: str) -> None:
    """``queue wait`` and ``run time`` of a finished task, from its timeline (emulator-clock milliseconds)."""
    answer = http.get(f"/__mock/tasks/{task_id}/timeline")
    if answer.status_code != 200:
        return
    moments = {event["task_status"]: event["time"] for event in answer.json()["timeline"]
               if event["event"] == "transition"}
    if "RUNNING" in moments:
        fire = environment.events.request.fire
        fire(request_type=JOB, name="queue wait", response_time=1000 * (moments["RUNNING"] - moments["PENDING"]),
             response_length=0, exception=None, context={})
        for final in ("SUCCEEDED", "FAILED"):
            if final in moments:
                fire(request_type=JOB, name="run time", response_time=1000 * (moments[final] - moments["RUNNING"]),
                     response_length=0, exception=None, context={})


def watch_throttling(environment: Environment, account: str | None) -> gevent.Greenlet:
    """A greenlet that reports each 429 the journal records (of ``account``, or all) as a ``429 seen`` entry."""

    def watch() -> None:
        with control(environment) as http:
            try:
                newest = http.get("/__mock/requests", params={"limit": 1}).json()["requests"]
                last, since = (newest[-1]["seq"], newest[-1]["time"]) if newest else (0, 0.0)
                while True:
                    gevent.sleep(POLL_JOURNAL_SECONDS)
                    params = {"status": 429, "since": since, **({"account": account} if account else {})}
                    for entry in http.get("/__mock/requests", params=params).json()["requests"]:
                        if entry["seq"] > last:
                            last, since = entry["seq"], entry["time"]
                            environment.events.request.fire(
                                request_type=JOB, name=f"429 seen ({entry['route']})",
                                response_time=entry["latency_ms"], response_length=0, exception=None, context={})
            except (httpx.HTTPError, ValueError, KeyError):
                return  # no control plane there (not an emulator, or one with an admin token), or it is gone

    return gevent.spawn(watch)
