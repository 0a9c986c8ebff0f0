"""Section 3: how a task ends (FAILED with a code, partial failures, fields the client does not know)."""

from __future__ import annotations

from mockserver.catalog import default_catalog

from ..grades import Finding, broken, ok
from ..observation import Observation, said
from .checks import failed_with, succeeded
from .model import Case

DOCS = "DashScope docs (task query: FAILED output carries code and message)"


def _message(code: str, variant: str | None = None) -> str:
    return default_catalog().errors[code].text(variant)


def _partial(o: Observation) -> Finding:
    result = o.result
    if result["status"] != "SUCCEEDED":
        return broken(f"reported {said(result)} for a task with two good images")
    failed = result.get("failed") or []
    wanted = [(2, "DataInspectionFailed"), (3, "DataInspectionFailed")]
    got = [(item.get("index"), item.get("code")) for item in failed]
    if got != wanted or not all(item.get("message") for item in failed):
        return broken(f"failed images reported as {failed!r}, not indexes 2 and 3 with code and message")
    if len(result["urls"]) != 2 or len(o.real_files()) != 2:
        return broken(f"{len(result['urls'])} URLs and {len(o.real_files())} files, not 2")
    return ok("SUCCEEDED with 2 files and 2 failures {index, code, message} passed on")


def _worker_refusal(o: Observation) -> Finding:
    message = str((o.result.get("error") or {}).get("message", ""))
    if "size" not in message:
        return broken(f"reported {said(o.result)} with error {o.result.get('error')!r}: no message about the size")
    return failed_with("InvalidParameter", message)(o)


def _tolerant(o: Observation) -> Finding:
    return succeeded(o)


CASES = [
    Case("3.1", "FAILED InternalError.Algo: code and message passed on", "MUST", DOCS,
         "ends the task FAILED with InternalError.Algo after 1 s",
         "reports FAILED with the task's code and message, and does not resubmit",
         failed_with("InternalError.Algo", _message("InternalError.Algo")),
         prompt="a cat [mock:fail=InternalError.Algo;running=1s]"),
    Case("3.2", "FAILED InternalError.Timeout", "MUST", DOCS,
         "ends the task FAILED with InternalError.Timeout (the 3-hour task timeout)",
         "reports FAILED with InternalError.Timeout and its message",
         failed_with("InternalError.Timeout", _message("InternalError.Timeout")),
         prompt="a cat [mock:fail=InternalError.Timeout]"),
    Case("3.3", "FAILED DataInspectionFailed (output blocked)", "MUST", DOCS,
         "ends the task FAILED with DataInspectionFailed, \"Output data may contain inappropriate content.\"",
         "reports FAILED with the code and message",
         failed_with("DataInspectionFailed", _message("DataInspectionFailed", "output")),
         prompt="a cat [mock:fail=DataInspectionFailed#output]"),
    Case("3.4", "FAILED InvalidParameter found by the worker", "MUST", "DashScope docs (captured FAILED task)",
         "accepts a submit with size 100*100, then ends the task FAILED InvalidParameter naming the allowed sizes",
         "reports FAILED with InvalidParameter and the worker's message",
         _worker_refusal,
         parameters={"n": 1, "size": "100*100"}),
    Case("3.5", "Partial failure: 2 of 4 images fail", "MUST", DOCS,
         "ends the task SUCCEEDED with two images and two {code, message} results",
         "reports SUCCEEDED with 2 URLs and 2 files, and the 2 failures with index, code and message",
         _partial, prompt="a cat [mock:partial=2/4]", parameters={"n": 4}),
    Case("3.6", "Every image fails: the task is FAILED", "MUST", DOCS,
         "fails all four images: the task ends FAILED DataInspectionFailed",
         "reports FAILED with the code and message",
         failed_with("DataInspectionFailed", _message("DataInspectionFailed", "output")),
         prompt="a cat [mock:partial=4/4]", parameters={"n": 4}),
    Case("3.7", "Unknown fields in the task output", "SHOULD", "HTTP practice (tolerant reader)",
         "adds a field future_field to the task's output, as a later API version may",
         "ignores it and ends SUCCEEDED", _tolerant, prompt="a cat [mock:extra=future_field:1]"),
]
