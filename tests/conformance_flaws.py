"""The reference adapter with one deliberate flaw, for grading the harness: ``python conformance_flaws.py FLAW``.

Each flaw is one patch of the reference client, so the adapter breaks exactly
the behaviour its name says and nothing else.
"""

from __future__ import annotations

import json
import os
import sys

from conformance.adapters import reference as adapter
from conformance.clients import reference, retry


def no_backoff() -> None:
    """Retries a 429 at once, and for a long time."""
    retry.Backoff.next = lambda self, retry_after=None: 0.0
    reference.SUBMIT_ATTEMPTS = 30


def fast_poll() -> None:
    """Polls ten times a second."""
    reference.FIRST_POLL, reference.POLL_GROWTH, reference.POLL_CAP = 0.1, 1.0, 0.1


def poll_forever() -> None:
    """Does not take UNKNOWN for an answer."""
    reference.FINAL = ("SUCCEEDED", "FAILED", "CANCELED")


def resubmit() -> None:
    """Gives a submit 2 s, then sends it again whatever may have happened to the first."""
    reference.REQUEST_SECONDS = 2.0
    submit = reference._submit

    def again(*args):
        for _ in range(3):
            try:
                return submit(*args)
            except reference.Stop as stop:
                if stop.code != "OutcomeUnknown":
                    raise
        return submit(*args)

    reference._submit = again


def drop_partial() -> None:
    """Forgets the images that failed."""
    generate = adapter.generate
    adapter.generate = lambda *args, **kwargs: {**generate(*args, **kwargs), "failed": []}


FLAWS = {"no-backoff": no_backoff, "fast-poll": fast_poll, "poll-forever": poll_forever,
         "resubmit": resubmit, "drop-partial": drop_partial}

if __name__ == "__main__":
    FLAWS[sys.argv[1]]()
    print(json.dumps(adapter.run(json.loads(os.environ["DASHSCOPE_CONFORMANCE_JOB"]))), flush=True)
