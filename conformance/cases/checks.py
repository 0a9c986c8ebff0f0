"""Checks that many cases share: the task ended so, the client did not retry, it kept waiting."""

from __future__ import annotations

from typing import Callable

from ..grades import Finding, broken, info, ok
from ..observation import Observation, pause, said, timeline

Check = Callable[[Observation], Finding]


def succeeded(o: Observation, images: int = 1) -> Finding:
    """Every task SUCCEEDED with ``images`` URLs and as many real files, from one task per result."""
    if o.statuses != ["SUCCEEDED"] * len(o.results):
        return broken(f"reported {', '.join(said(r) for r in o.results)}; requests: {timeline(o.journal)}")
    if len(o.tasks) != len(o.results):
        return broken(f"{len(o.tasks)} tasks created for {len(o.results)} results: {timeline(o.submits)}")
    for result in o.results:
        if len(result["urls"]) != images or len(o.real_files(result)) != images:
            return broken(f"{len(result['urls'])} URLs and {len(o.real_files(result))} PNG files, not {images}")
    return ok(f"SUCCEEDED with {images} image(s) per task; requests: {timeline(o.journal)}")


def kept_waiting(o: Observation) -> Finding:
    """Survived the faults on the way: SUCCEEDED in the end."""
    return succeeded(o)


def refused_once(code: str) -> Check:
    """A submit refused with ``code`` is not sent again, and the caller gets ERROR with the code."""

    def check(o: Observation) -> Finding:
        if len(o.submits) != 1:
            return broken(f"sent the refused submit {len(o.submits)} times: {timeline(o.submits)}")
        error = o.result.get("error") or {}
        if o.result["status"] != "ERROR" or error.get("code") != code:
            return broken(f"reported {said(o.result)}, not ERROR {code}")
        return ok(f"one submit, reported ERROR {code}")

    return check


def one_submit(o: Observation) -> Finding:
    """The submit whose outcome was unknown was not sent again."""
    if len(o.submits) > 1:
        return broken(f"sent the submit {len(o.submits)} times ({len(o.tasks)} tasks created, each billed): "
                      f"{timeline(o.submits)}")
    return ok(f"one submit; reported {said(o.result)}")


def failed_with(code: str, message: str) -> Check:
    """The task ended FAILED and the caller gets its code and message."""

    def check(o: Observation) -> Finding:
        error = o.result.get("error") or {}
        if o.result["status"] != "FAILED":
            return broken(f"reported {said(o.result)}, not FAILED")
        if error.get("code") != code or error.get("message") != message:
            return broken(f"FAILED with error {error!r}, not {code!r} / {message!r}")
        if len(o.submits) != 1:
            return broken(f"resubmitted a FAILED task: {timeline(o.submits)}")
        return ok(f"FAILED with {code} and its message")

    return check


def retried_after(route: str, status: int, at_least: float) -> Check:
    """After each ``status`` answer on ``route``, the next request of the route waits ``at_least`` seconds."""

    def check(o: Observation) -> Finding:
        refused = o.requests(route, status=status)
        waits = []
        for entry in refused:
            following = o.after(entry, route)
            if following:
                waits.append(round(pause(entry, following[0]), 2))
        if not waits:
            return info(f"did not retry after the {status}s (graded by the case before this one)")
        if min(waits) < at_least:
            return broken(f"waited {waits} s after each {status}: under {at_least} s")
        return ok(f"waited {waits} s after each {status}")

    return check


def may_resubmit(after: str) -> Check:
    """A submit whose answer was lost (``after``): resubmitting is a trade-off, claiming a task that is not is broken.

    The emulator made no task here, but a client cannot know that: on the
    real service the first submit may have made a task, which runs and is billed.
    """

    def check(o: Observation) -> Finding:
        if len(o.submits) > 1 and o.result["status"] == "SUCCEEDED":
            return info(f"submitted again {after} ({timeline(o.submits)}): safe here, but on the real service "
                        "the first submit may have made a task too, billed as well")
        if o.result["status"] == "SUCCEEDED":
            return broken("reported SUCCEEDED although no task was created")
        return ok(f"did not resubmit; reported {said(o.result)}")

    return check
