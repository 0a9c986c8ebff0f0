"""Grades, and what a case's check says about one run.

A check returns a :class:`Finding`: ``ok``, ``broken`` (FAILED for a MUST,
NON-STRICT for a SHOULD) or ``info``, with the observed behaviour in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Grade(str, Enum):
    OK = "OK"
    NON_STRICT = "NON-STRICT"
    FAILED = "FAILED"
    INFORMATIONAL = "INFORMATIONAL"
    UNIMPLEMENTED = "UNIMPLEMENTED"


ORDER = [grade.value for grade in Grade]


@dataclass(frozen=True)
class Finding:
    """What a check concluded: ``verdict`` is ok, broken or info."""

    verdict: str
    observed: str


def ok(observed: str) -> Finding:
    return Finding("ok", observed)


def broken(observed: str) -> Finding:
    return Finding("broken", observed)


def info(observed: str) -> Finding:
    return Finding("info", observed)


def grade_of(finding: Finding, level: str, strict: bool = False) -> Grade:
    """OK, INFORMATIONAL, or for a broken expectation FAILED (MUST, or any with ``strict``) / NON-STRICT."""
    if finding.verdict == "ok":
        return Grade.OK
    if finding.verdict == "info":
        return Grade.INFORMATIONAL
    return Grade.FAILED if level == "MUST" or strict else Grade.NON_STRICT
