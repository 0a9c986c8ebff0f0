"""Locust profile ``retry``: copies of one client share one account, each running job after job.

Each simulated user calls the client (``--client``: ``sdk``, ``naive``,
``reference`` or ``module:function``) with a prompt tagged with the run and
job ids, logs what it returned, and reports the job to Locust under the
request type ``JOB``. Run it with ``dashscope-mock load retry`` (which starts
an emulator, checks the figures against its journal and writes summary.json),
or directly: ``locust -f load/retry.py --host http://127.0.0.1:8580 --client naive``.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.env import Environment

from mockserver.loadtest.clients import Client, resolve, result
from mockserver.loadtest.jobs import INTERRUPTED, marker
from mockserver.loadtest.locust_support import (control, job_log, options, report_job, report_task_times,
                                                watch_throttling)

_numbers = itertools.count(1)


@events.test_start.add_listener
def _share_one_account(environment: Environment, **_: Any) -> None:
    """Every client reads the base URL and the key from the environment: one key, so one account."""
    parsed = options(environment)
    os.environ["DASHSCOPE_HTTP_BASE_URL"] = f"{(environment.host or '').rstrip('/')}/api/v1"
    os.environ["DASHSCOPE_API_KEY"] = parsed.api_key
    try:
        resolve(parsed.client)  # a bad --client fails here, once, not in every user
    except ValueError as error:
        logging.getLogger(__name__).error("%s", error)
        environment.process_exit_code = 2
        gevent.spawn(environment.runner.quit)
        return
    with control(environment) as http:
        answer = http.get("/__mock/account", params={"key": parsed.api_key})
    watch_throttling(environment, answer.json()["account"] if answer.status_code == 200 else None)


class RetryUser(User):
    """One copy of the client: a job, then the next, with no pause (the client paces itself)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        parsed = options(self.environment)
        self.number = next(_numbers)
        self.jobs = itertools.count(1)
        self.generate: Client = resolve(parsed.client)
        self.log = job_log(self.environment)
        self.control = control(self.environment)

    def on_stop(self) -> None:
        self.control.close()

    @task
    def job(self) -> None:
        parsed = options(self.environment)
        job_id = f"{self.number}-{next(self.jobs)}"
        prompt = f"a lighthouse at dusk {marker(parsed.run_id, job_id)}"
        started = self.log.start(job_id)
        with tempfile.TemporaryDirectory(prefix="dashscope-load-") as out_dir:
            try:
                answer = self.generate(parsed.model, {"prompt": prompt}, {"n": parsed.images}, out_dir=out_dir,
                                       timeout_seconds=parsed.job_timeout)
            except Exception as error:  # a client that raises has failed the job, not the load test
                answer = result(None, "ERROR", error={"code": type(error).__name__, "message": str(error)})
            except BaseException:  # the run is over (Locust kills the user): the job was cut short
                self.log.end(job_id, {"status": INTERRUPTED}, started)
                raise
        if not isinstance(answer, dict):
            answer = result(None, "ERROR", error={"code": "BadResult", "message": f"the client returned {answer!r}"})
        job = self.log.end(job_id, answer, started)
        report_job(self.environment, job, job.status == "SUCCEEDED")
        if job.task_id:
            report_task_times(self.environment, self.control, job.task_id)
