"""Section 5: account limits (submit rate, concurrency, the query rate) with several tasks at once."""

from __future__ import annotations

from ..grades import Finding, broken, ok
from ..observation import Observation, said, timeline
from .model import Case

DOCS = "DashScope docs (rate limits: submissions per second, tasks at once, 20 queries/s)"


def _all_done(o: Observation) -> Finding:
    if o.statuses != ["SUCCEEDED"] * o.job["tasks"] or len(o.results) != o.job["tasks"]:
        return broken(f"reported {[said(result) for result in o.results]} for {o.job['tasks']} tasks")
    if len(o.tasks) != o.job["tasks"]:
        return broken(f"{len(o.tasks)} tasks created for {o.job['tasks']}: {timeline(o.submits)}")
    throttled = len(o.requests(status=429))
    return ok(f"{o.job['tasks']} tasks SUCCEEDED, one each, {throttled} throttled request(s) on the way")


CASES = [
    Case("5.1", "Four tasks against submit QPS 2 and concurrency 1", "MUST", DOCS,
         "limits the account to 2 submits a second and 1 task at once; each task runs 1 s",
         "spaces or retries the submits, never drops a task: four tasks, each SUCCEEDED once",
         _all_done, prompt="a cat [mock:running=1s]", tasks=4,
         account={"models": {"wanx-v1": {"submit_per_second": 2, "concurrency": 1}}}),
    Case("5.2", "Polls over the account's query rate", "MUST", DOCS,
         "limits the account to 1 query a second; three tasks of 2 s are polled at once",
         "keeps waiting through the throttled polls: three tasks SUCCEEDED", _all_done,
         prompt="a cat [mock:running=2s]", tasks=3,
         account={"requests_per_second": 1, "models": {"wanx-v1": {"concurrency": 3, "submit_per_second": 5}}}),
    Case("5.3", "A queue behind concurrency 1", "MUST", DOCS,
         "runs one task at a time; three tasks of 2 s wait PENDING in turn",
         "submits each once and waits: three tasks SUCCEEDED", _all_done,
         prompt="a cat [mock:running=2s]", tasks=3,
         account={"models": {"wanx-v1": {"concurrency": 1, "submit_per_second": 5}}}),
]
