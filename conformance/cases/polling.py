"""Section 2: waiting for a task (cadence, throttled and failing polls, UNKNOWN, a deadline)."""

from __future__ import annotations

from ..grades import Finding, broken, ok
from ..observation import Observation, gaps, said
from .checks import kept_waiting, retried_after, succeeded
from .model import Case, rule

DOCS = "DashScope docs (asynchronous call: query the task until it ends)"
SDK = "the official SDK's wait() (polls 1, 1, 2, 2, 2, 4 ... s)"
PRACTICE = "HTTP practice (GET is idempotent: retry it)"


def _cadence(o: Observation) -> Finding:
    intervals = [gap for task in o.tasks for gap in gaps(o.polls(task))]
    if intervals and min(intervals) < 0.9:
        return broken(f"polled again {min(intervals)} s after an answer (pauses {intervals[:12]} s)")
    return ok(f"pauses between polls {intervals[:12]} s")


def _backs_off(o: Observation) -> Finding:
    intervals = gaps(o.polls())
    if len(intervals) < 3:
        return ok(f"{len(intervals) + 1} polls over the task: already sparse")
    if max(intervals) < 2.0:
        return broken(f"kept pausing {intervals[-1]} s between polls over a 12 s task (pauses {intervals})")
    return ok(f"pauses between polls grew to {max(intervals)} s ({intervals})")


def _stops_on_unknown(o: Observation) -> Finding:
    polls = o.polls()
    if not polls:
        return broken(f"never polled; reported {said(o.result)}")
    if len(polls) > 2:
        return broken(f"kept polling a task that reads UNKNOWN: {len(polls)} polls, reported {said(o.result)}")
    if o.result["status"] not in ("UNKNOWN", "ERROR"):
        return broken(f"reported {said(o.result)} for a task that reads UNKNOWN")
    return ok(f"stopped after {len(polls)} poll(s) and reported {said(o.result)}")


def _times_out(o: Observation) -> Finding:
    if o.result["status"] != "TIMEOUT":
        return broken(f"reported {said(o.result)} for a task still RUNNING at its deadline")
    return ok(f"reported TIMEOUT after {len(o.polls())} polls")


def _waits_in_queue(o: Observation) -> Finding:
    pending = [entry for entry in o.polls() if entry.get("task_status") == "PENDING"]
    found = succeeded(o)
    if found.verdict != "ok":
        return found
    return ok(f"one submit, {len(pending)} polls saw PENDING, then SUCCEEDED")


CASES = [
    Case("2.1", "Poll cadence: not faster than once a second", "MUST", SDK,
         "runs the task 5 s", "polls each task at most once a second", _cadence,
         prompt="a cat [mock:running=5s]"),
    Case("2.2", "Poll cadence backs off on a long task", "SHOULD", SDK,
         "runs the task 12 s", "stretches the poll interval to 2 s or more", _backs_off,
         prompt="a cat [mock:running=12s]"),
    Case("2.3", "429 on polls: keep waiting", "MUST", DOCS,
         "answers the first three polls 429 Throttling.RateQuota",
         "keeps waiting (a throttled poll says nothing about the task) and ends SUCCEEDED", kept_waiting,
         prompt="a cat [mock:running=2s]", faults=(rule("query", 3, http={"code": "Throttling.RateQuota"}),)),
    Case("2.4", "Backoff after a throttled poll", "SHOULD", PRACTICE,
         "answers the first three polls 429 Throttling.RateQuota",
         "waits about a second or more after each throttled poll", retried_after("query", 429, 0.9),
         prompt="a cat [mock:running=2s]", faults=(rule("query", 3, http={"code": "Throttling.RateQuota"}),)),
    Case("2.5", "503 ModelUnavailable on polls", "MUST", SDK,
         "answers two polls 503 ModelUnavailable", "keeps waiting and ends SUCCEEDED", kept_waiting,
         faults=(rule("query", 2, http={"code": "ModelUnavailable"}),)),
    Case("2.6", "504 on polls", "MUST", SDK,
         "answers two polls 504 (a gateway timeout)", "keeps waiting and ends SUCCEEDED", kept_waiting,
         faults=(rule("query", 2, http={"code": "InternalError", "status": 504}),)),
    Case("2.7", "500 InternalError on a poll", "SHOULD", PRACTICE,
         "answers one poll 500 InternalError", "polls again (a GET is safe to repeat) and ends SUCCEEDED",
         kept_waiting, faults=(rule("query", 1, http={"code": "InternalError"}),)),
    Case("2.8", "UNKNOWN: stop polling", "MUST", DOCS,
         "every poll answers task_status UNKNOWN (as for an expired or foreign id)",
         "stops at once (the task will never come back) and reports UNKNOWN or ERROR", _stops_on_unknown,
         prompt="a cat [mock:extra=task_status:UNKNOWN]", timeout_seconds=15),
    Case("2.9", "A task RUNNING past the client's deadline", "MUST", PRACTICE,
         "keeps the task RUNNING for hours (stuck)", "stops at its own deadline (5 s) and reports TIMEOUT",
         _times_out, prompt="a cat [mock:stuck]", timeout_seconds=5),
    Case("2.10", "A long PENDING wait in the queue", "MUST", DOCS,
         "keeps the task PENDING 6 s (queued behind the account's concurrency), then runs it 1 s",
         "keeps polling without resubmitting and ends SUCCEEDED", _waits_in_queue,
         prompt="a cat [mock:pending=6s;running=1s]"),
]
