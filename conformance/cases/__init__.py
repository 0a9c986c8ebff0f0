"""The case catalogue, numbered by section: 1 submit, 2 polling, 3 outcomes, 4 results,
5 limits and queues, 6 cancel, 7 transport faults."""

from __future__ import annotations

import fnmatch

from . import cancel, limits, outcomes, polling, results, submit, transport
from .model import LEVELS, Case

CATALOGUE: list[Case] = [*submit.CASES, *polling.CASES, *outcomes.CASES, *results.CASES, *limits.CASES,
                         *cancel.CASES, *transport.CASES]
SECTIONS = {"1": "Submit", "2": "Polling", "3": "Outcomes", "4": "Results", "5": "Limits and queues",
            "6": "Cancel", "7": "Transport faults"}


def select(selection: str | None) -> list[Case]:
    """The cases whose id matches one of the comma-separated ids or globs (``2.*,3.4``); all for None."""
    if not selection:
        return list(CATALOGUE)
    patterns = [part.strip() for part in selection.split(",") if part.strip()]
    return [case for case in CATALOGUE if any(fnmatch.fnmatchcase(case.id, pattern) for pattern in patterns)]


def sort_key(case_id: str) -> tuple[int, ...]:
    """``1.10`` after ``1.9``."""
    return tuple(int(part) if part.isdigit() else 0 for part in case_id.split("."))


__all__ = ["CATALOGUE", "LEVELS", "SECTIONS", "Case", "select", "sort_key"]
