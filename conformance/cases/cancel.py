"""Section 6: canceling a task (PENDING, finished, a throttled cancel)."""

from __future__ import annotations

from ..grades import Finding, broken, ok
from ..observation import Observation, said
from .model import Case, rule

DOCS = "DashScope docs (cancel: only PENDING tasks; else 400 UnsupportedOperation)"


def _canceled(o: Observation) -> Finding:
    if o.result["status"] != "CANCELED":
        return broken(f"reported {said(o.result)} after canceling a PENDING task")
    if not o.requests("cancel", status=200):
        return broken("no cancel request succeeded")
    return ok("canceled; reported CANCELED")


def _refused(o: Observation) -> Finding:
    error = o.result.get("error") or {}
    if o.result["status"] == "CANCELED":
        return broken("reported CANCELED for a task that had already finished")
    if error.get("code") != "UnsupportedOperation":
        return broken(f"reported {said(o.result)}: the 400 UnsupportedOperation was not passed on")
    if len(o.requests("cancel")) > 1:
        return broken(f"sent the refused cancel {len(o.requests('cancel'))} times")
    return ok(f"reported {said(o.result)}")


CASES = [
    Case("6.1", "Cancel a PENDING task", "MUST", DOCS,
         "keeps the task PENDING for an hour", "cancels it and reports CANCELED", _canceled,
         action="cancel", prompt="a cat [mock:pending=1h]"),
    Case("6.2", "Cancel a finished task", "MUST", DOCS,
         "ends the task at once; the cancel answers 400 UnsupportedOperation",
         "passes the refusal on (error UnsupportedOperation), does not claim CANCELED nor retry", _refused,
         action="cancel"),
    Case("6.3", "A throttled cancel", "SHOULD", DOCS,
         "keeps the task PENDING; answers the first cancel 429 Throttling.RateQuota",
         "retries the cancel after a pause and reports CANCELED", _canceled,
         action="cancel", prompt="a cat [mock:pending=1h]",
         faults=(rule("cancel", 1, http={"code": "Throttling.RateQuota"}),)),
]
