"""The adapter of our raw-HTTP reference client (``conformance.clients.reference``).

Runs the job's tasks at once, one thread each, as a service handling
concurrent requests would, and prints their results as one JSON array.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

from conformance.clients.reference import cancel, generate


def run(job: dict) -> list[dict]:
    def one(index: int) -> dict:
        arguments = (job["model"], job["input"], job.get("parameters", {}))
        if job["action"] == "cancel":
            return cancel(*arguments, timeout_seconds=job["timeout_seconds"])
        return generate(*arguments, out_dir=job.get("out_dir"), timeout_seconds=job["timeout_seconds"])

    tasks = int(job.get("tasks", 1))
    with ThreadPoolExecutor(max_workers=tasks) as pool:
        return list(pool.map(one, range(tasks)))


if __name__ == "__main__":
    print(json.dumps(run(json.loads(os.environ["DASHSCOPE_CONFORMANCE_JOB"]))), flush=True)
