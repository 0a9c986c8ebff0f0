"""Locust profile ``capacity``: how much traffic can this emulator take?

Every simulated user is an account of its own (its own key, so the per-account
limits never throttle the test) running what a client really sends: a
submit, polls at the official SDK's cadence (at once, then 1, 1, 2, 2, 2, 4 ...
seconds), the result downloads, and a task list every fifth job. A ramp
(:class:`Ramp`) raises the users in five equal steps over the run, so
Locust's history shows where throughput stops growing: the knee.

Run it with ``dashscope-mock load capacity``, or ``locust -f load/capacity.py --host URL``.
"""

from __future__ import annotations

import itertools
from typing import Any

import gevent
from locust import LoadTestShape, constant, task
from locust.contrib.fasthttp import FastHttpUser

from mockserver.catalog import default_catalog
from mockserver.lifecycle.task import TERMINAL
from mockserver.loadtest.clients import result
from mockserver.loadtest.jobs import INTERRUPTED, marker
from mockserver.loadtest.locust_support import job_log, options
from mockserver.loadtest.stages import STEPS, ramp

SDK_POLLS = (0, 1, 1, 2, 2, 2, 4, 4, 4)  # seconds before each poll; then every 5 s (dashscope's wait())
LIST_EVERY = 5  # jobs
_numbers = itertools.count(1)


class CapacityUser(FastHttpUser):
    """One account's client: job after job, each at the SDK's pace."""

    wait_time = constant(0)

    def on_start(self) -> None:
        parsed = options(self.environment)
        self.number = next(_numbers)
        self.jobs = itertools.count(1)
        self.log = job_log(self.environment)
        self.headers = {"Authorization": f"Bearer {parsed.api_key}-{parsed.run_id}-{self.number}"}
        entry = default_catalog().model(parsed.model)
        self.route = f"/api/v1{entry.route.path if entry else '/services/aigc/text2image/image-synthesis'}"

    @task
    def job(self) -> None:
        parsed = options(self.environment)
        number = next(self.jobs)
        job_id = f"{self.number}-{number}"
        started = self.log.start(job_id)
        try:
            answer = self._generate(parsed, job_id)
        except BaseException:  # the run is over (Locust kills the user) or Locust itself failed
            self.log.end(job_id, {"status": INTERRUPTED}, started)
            raise
        self.log.end(job_id, answer, started)  # no JOB entry: Locust's figures here are the HTTP requests' own
        if number % LIST_EVERY == 0:
            self.client.get("/api/v1/tasks?page_no=1&page_size=10", headers=self.headers, name="list")

    def _generate(self, parsed: Any, job_id: str) -> dict:
        body = {"model": parsed.model, "input": {"prompt": f"a harbour at noon {marker(parsed.run_id, job_id)}"},
                "parameters": {"n": parsed.images}}
        answer = self.client.post(self.route, json=body, headers={**self.headers, "X-DashScope-Async": "enable"},
                                  name="submit")
        if answer.status_code != 200:
            code = f"HTTP{answer.status_code}" if answer.status_code else "NoAnswer"  # 0: reset or timed out
            return result(None, "ERROR", error={"code": code})
        task_id = answer.json()["output"]["task_id"]
        output: dict[str, Any] = {}
        for wait in itertools.chain(SDK_POLLS, itertools.repeat(5)):
            gevent.sleep(wait)
            answer = self.client.get(f"/api/v1/tasks/{task_id}", headers=self.headers, name="poll")
            if answer.status_code == 200:
                output = answer.json()["output"]
                if output["task_status"] in TERMINAL:
                    break
        urls = [item["url"] for item in output.get("results", []) if item.get("url")]
        fetched = [url for url in urls if self.client.get(url, name="download").status_code == 200]
        return result(task_id, output["task_status"], urls=urls, files=fetched)


class Ramp(LoadTestShape):
    """``--users`` reached in five equal steps over ``--run-time``; each step holds long enough to be read."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        parsed = self.runner.environment.parsed_options
        duration = parsed.run_time or 60
        elapsed = self.get_run_time()
        if elapsed >= duration:
            return None
        users = ramp(parsed.num_users)[min(STEPS, int(elapsed / (duration / STEPS)) + 1) - 1]
        return users, max(float(parsed.spawn_rate or 1), users / 2)
