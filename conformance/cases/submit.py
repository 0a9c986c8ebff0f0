"""Section 1: submitting a task (throttling, refusals, errors and silence on the submit route)."""

from __future__ import annotations

from ..grades import Finding, broken, ok
from ..observation import Observation, said, timeline
from .checks import may_resubmit, one_submit, refused_once, retried_after, succeeded
from .model import Case, rule

DOCS = "DashScope docs (error codes; asynchronous call)"
PRACTICE = "HTTP practice (RFC 9110 idempotency; RFC 6585 429)"


def _happy(o: Observation) -> Finding:
    found = succeeded(o, images=4)
    if found.verdict != "ok":
        return found
    if len(set(o.result["files"])) != 4:
        return broken(f"4 images written to {len(set(o.result['files']))} distinct files")
    downloads = o.requests("download", status=200)
    if len(downloads) < 4:
        return broken(f"{len(downloads)} result downloads reached the server, not 4")
    return ok(f"one submit, {len(o.polls())} polls, 4 downloads, 4 PNG files")


def _throttled_then_ok(o: Observation) -> Finding:
    if o.result["status"] != "SUCCEEDED":
        return broken(f"gave up on a throttled submit: reported {said(o.result)} after {timeline(o.submits)}")
    return succeeded(o)


def _gives_up_in_budget(o: Observation) -> Finding:
    if o.result["status"] not in ("ERROR", "TIMEOUT"):
        return broken(f"reported {said(o.result)} although every submit was throttled")
    if len(o.submits) > 10:
        return broken(f"{len(o.submits)} submits before giving up: no retry budget")
    return ok(f"gave up after {len(o.submits)} submits with {said(o.result)}")


CASES = [
    Case("1.1", "Happy path: one task of four images, downloaded", "MUST", DOCS,
         "runs the task for 2 s and serves its four PNG results",
         "one submit with X-DashScope-Async, polls until SUCCEEDED, downloads the four images into out_dir",
         _happy, prompt="a cat [mock:running=2s]", parameters={"n": 4}),
    Case("1.2", "429 Throttling.RateQuota on the first two submits", "MUST", DOCS,
         "answers the first two submits 429 Throttling.RateQuota (\"please try again later\")",
         "retries the submit and ends SUCCEEDED with exactly one task",
         _throttled_then_ok, faults=(rule("submit", 2, http={"code": "Throttling.RateQuota"}),)),
    Case("1.3", "Backoff between throttled submits", "MUST", PRACTICE,
         "answers the first three submits 429 Throttling.RateQuota",
         "waits at least 0.5 s after each 429 before submitting again (never at once)",
         retried_after("submit", 429, 0.5), faults=(rule("submit", 3, http={"code": "Throttling.RateQuota"}),)),
    Case("1.4", "Throttled on every submit: a retry budget", "MUST", PRACTICE,
         "answers every submit 429 Throttling.RateQuota",
         "gives up within a budget (at most 10 submits) and reports ERROR or TIMEOUT before its deadline",
         _gives_up_in_budget, timeout_seconds=12,
         faults=(rule("submit", None, http={"code": "Throttling.RateQuota"}),)),
    Case("1.5", "400 InvalidParameter on submit is not retried", "MUST", DOCS,
         "answers the submit 400 InvalidParameter",
         "sends it once and reports ERROR InvalidParameter", refused_once("InvalidParameter"),
         faults=(rule("submit", 1, http={"code": "InvalidParameter"}),)),
    Case("1.6", "400 DataInspectionFailed on submit is not retried", "MUST", DOCS,
         "answers the submit 400 DataInspectionFailed (input blocked)",
         "sends it once and reports ERROR DataInspectionFailed", refused_once("DataInspectionFailed"),
         faults=(rule("submit", 1, http={"code": "DataInspectionFailed", "variant": "input"}),)),
    Case("1.7", "401 InvalidApiKey is not retried", "MUST", DOCS,
         "answers the submit 401 InvalidApiKey",
         "sends it once and reports ERROR InvalidApiKey", refused_once("InvalidApiKey"),
         faults=(rule("submit", 1, http={"code": "InvalidApiKey"}),)),
    Case("1.8", "403 AllocationQuota.FreeTierOnly is not retried", "MUST", DOCS,
         "the account is in free-tier-only mode with no free image left",
         "sends the submit once and reports ERROR AllocationQuota.FreeTierOnly",
         refused_once("AllocationQuota.FreeTierOnly"),
         account={"free_tier_only": True, "models": {"wanx-v1": {"remaining": 0}}}),
    Case("1.9", "500 InternalError on submit", "MAY", PRACTICE,
         "answers the first submit 500 InternalError (the emulator made no task)",
         "either reports ERROR, or retries knowing that on the real service the first task may exist and be billed",
         may_resubmit("after a 500"), faults=(rule("submit", 1, http={"code": "InternalError"}),)),
    Case("1.10", "A submit answered only after 8 s: no resubmit", "MUST", PRACTICE,
         "creates the task, then holds the submit's answer 8 s",
         "waits for the answer or gives up, but never submits again while the first may have made a task",
         one_submit, faults=(rule("submit", 1, network={"kind": "stall", "seconds": 8}),)),
    Case("1.11", "503 ModelUnavailable on the first submit", "SHOULD", DOCS,
         "answers the first submit 503 ModelUnavailable (\"please try again later\")",
         "retries after a pause and ends SUCCEEDED with one task", _throttled_then_ok,
         faults=(rule("submit", 1, http={"code": "ModelUnavailable"}),)),
]
