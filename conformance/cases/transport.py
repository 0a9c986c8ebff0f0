"""Section 7: transport faults (resets, empty and cut answers, stalls) on submits and polls."""

from __future__ import annotations

from .checks import kept_waiting, may_resubmit, one_submit
from .model import Case, rule

PRACTICE = "HTTP practice (a request that may have been processed must not be repeated blindly)"

CASES = [
    Case("7.1", "Connection reset on submit", "MAY", PRACTICE,
         "resets the submit's connection before answering (no task is made)",
         "reports ERROR without resubmitting, or resubmits knowing it may double a task",
         may_resubmit("after a lost answer"),
         faults=(rule("submit", 1, network={"kind": "reset"}),)),
    Case("7.2", "No answer at all on submit", "MAY", PRACTICE,
         "closes the submit's connection without an answer (no task is made)",
         "reports ERROR without resubmitting, or resubmits knowing it may double a task",
         may_resubmit("after a lost answer"),
         faults=(rule("submit", 1, network={"kind": "empty"}),)),
    Case("7.3", "A submit answer cut short: no resubmit", "MUST", PRACTICE,
         "creates the task, then closes the connection halfway through the answer",
         "does not submit again (the task exists and is billed); reports ERROR", one_submit,
         faults=(rule("submit", 1, network={"kind": "truncate"}),)),
    Case("7.4", "Connection resets on polls", "MUST", PRACTICE,
         "resets the connection of two polls", "polls again and ends SUCCEEDED", kept_waiting,
         faults=(rule("query", 2, network={"kind": "reset"}),)),
    Case("7.5", "No answer on a poll", "MUST", PRACTICE,
         "closes one poll's connection without an answer", "polls again and ends SUCCEEDED", kept_waiting,
         faults=(rule("query", 1, network={"kind": "empty"}),)),
    Case("7.6", "A poll answer cut short", "SHOULD", PRACTICE,
         "closes one poll's connection halfway through the answer", "polls again and ends SUCCEEDED",
         kept_waiting, faults=(rule("query", 1, network={"kind": "truncate"}),)),
    Case("7.7", "A poll answered after 3 s", "SHOULD", PRACTICE,
         "holds one poll's answer 3 s", "waits for it (or polls again) and ends SUCCEEDED", kept_waiting,
         faults=(rule("query", 1, network={"kind": "stall", "seconds": 3}),)),
]
