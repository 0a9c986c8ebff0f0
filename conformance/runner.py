"""Runs the adapter once per case on its own account, and grades what it did and said.

Cases run ``jobs`` at a time; a case that moves the emulator's shared clock
(``exclusive``) runs alone after the others.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import contract
from .cases import Case
from .grades import Finding, Grade, broken, grade_of
from .observation import Observation
from .target import Target

GRACE_SECONDS = 10.0  # past the job's timeout_seconds, the adapter is killed and graded FAILED
TAIL = 2000  # characters of stdout/stderr kept in the report


class AdapterNotStarted(RuntimeError):
    """The adapter command could not be run at all (not found, not executable)."""


@dataclass
class CaseRun:
    """One case's grade with everything a reader needs to see why."""

    case: Case
    grade: Grade
    observed: str
    duration_s: float
    requests: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""

    def summary(self) -> dict[str, Any]:
        return {"id": self.case.id, "title": self.case.title, "grade": self.grade.value,
                "expected": self.case.expected, "observed": self.observed, "duration_s": self.duration_s}

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "level": self.case.level, "source": self.case.source,
                "emulator": self.case.emulator, "requests": self.requests, "results": self.results,
                "exit_code": self.exit_code, "stdout": self.stdout[-TAIL:], "stderr": self.stderr[-TAIL:]}


class _Stage:
    """What a case's ``during`` hook may do: wait for the client's first request of a route, move the clock."""

    def __init__(self, target: Target, account: str) -> None:
        self.target, self.account = target, account

    def wait_for(self, route: str, timeout: float = 60.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.target.requests(account=self.account, route=route, limit=1)
            if found:
                return found[0]
            time.sleep(0.05)
        return None

    def advance(self, seconds: float) -> None:
        self.target.advance(seconds)


def run(cases: Sequence[Case], command: Sequence[str], agent: str, target: Target, *, jobs: int = 1,
        strict: bool = False, done: Callable[[CaseRun], None] | None = None) -> list[CaseRun]:
    """Every case, graded (``done`` hears of each as it ends); raises AdapterNotStarted when the command
    cannot be run."""
    shared = [case for case in cases if not case.exclusive]
    alone = [case for case in cases if case.exclusive]
    with tempfile.TemporaryDirectory(prefix="conformance-") as work:
        def one(case: Case) -> CaseRun:
            case_run = run_case(case, command, agent, target, Path(work), strict=strict)
            if done is not None:
                done(case_run)
            return case_run

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            runs = list(pool.map(one, shared))
        runs += [one(case) for case in alone]
    order = {case.id: index for index, case in enumerate(cases)}
    return sorted(runs, key=lambda case_run: order[case_run.case.id])


def run_case(case: Case, command: Sequence[str], agent: str, target: Target, work: Path, *,
             strict: bool = False) -> CaseRun:
    """Set the case up on a fresh account, run the adapter once, and grade it."""
    key = f"sk-conformance-{slug(agent)}-{case.id}-{secrets.token_hex(4)}"
    account = target.account(key=key)["account"]
    if case.account:
        target.set_account(key=key, **case.account)
    rules = [target.add_rule(**_keyed(rule, key, account))["id"] for rule in case.faults]
    job = case.job(str(work / f"{slug(agent)}-{case.id}"))
    offset = target.now() - time.time()  # the emulator's clock minus the wall clock
    started = time.monotonic()
    try:
        env = {**os.environ, **contract.environment(target.base_url, key, case.id, job)}
        process, stdout, stderr, overran = _execute(case, command, env, _Stage(target, account))
    finally:
        stalled = _stalled(target, rules)
        for rule_id in rules:
            target.remove_rule(rule_id)
    duration = round(time.monotonic() - started, 2)
    _settle(target, account, stalled)
    journal = target.requests(account=account)
    case_run = CaseRun(case, Grade.FAILED, "", duration, [_wall(entry, offset) for entry in journal], None,
                       process.returncode, stdout, stderr)
    if overran:
        case_run.observed = f"overran its timeout_seconds ({case.timeout_seconds:g} s) by {GRACE_SECONDS:g} s: killed"
        return case_run
    if process.returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-4:]) or "nothing on stderr"
        case_run.observed = f"the adapter exited with status {process.returncode}: {tail[-400:]}"
        return case_run
    try:
        case_run.results = contract.parse(stdout, case.tasks)
    except contract.ContractError as error:
        case_run.observed = f"broke the adapter contract: {error}"  # FAILED whatever the case's level
        return case_run
    if case_run.results is None:
        case_run.grade, case_run.observed = Grade.UNIMPLEMENTED, "the adapter says its client has no such action"
        return case_run
    finding = _checked(case, Observation(job, case_run.results, journal))
    case_run.grade, case_run.observed = grade_of(finding, case.level, strict), finding.observed
    return case_run


def _execute(case: Case, command: Sequence[str], env: dict[str, str],
             stage: _Stage) -> tuple[subprocess.Popen, str, str, bool]:
    """Run the adapter (and the case's ``during`` hook beside it): ``(process, stdout, stderr, overran)``."""
    try:
        process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, encoding="utf-8", errors="replace", start_new_session=True)
    except OSError as error:
        raise AdapterNotStarted(f"cannot run {' '.join(command)}: {error}") from None
    if case.during is not None:
        threading.Thread(target=case.during, args=(stage,), daemon=True).start()
    try:
        stdout, stderr = process.communicate(timeout=case.timeout_seconds + GRACE_SECONDS)
        return process, stdout, stderr, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the adapter's children too
        stdout, stderr = process.communicate()
        return process, stdout, stderr, True


def _checked(case: Case, observation: Observation) -> Finding:
    try:
        return case.check(observation)
    except (KeyError, IndexError, TypeError, ValueError) as error:  # results the check could not read
        return broken(f"results the check could not read ({type(error).__name__}: {error})")


def _stalled(target: Target, rule_ids: list[int]) -> list[tuple[str, int, float]]:
    """``(route, requests that arrived, stall seconds)`` of this case's stall rules."""
    ours = [rule for rule in target.faults() if rule["id"] in rule_ids]
    return [(rule["match"]["route"], rule["seen"], rule["network"]["seconds"]) for rule in ours
            if rule.get("network", {}).get("kind") == "stall"]


def _settle(target: Target, account: str, stalled: list[tuple[str, int, float]]) -> None:
    """Wait for stalled requests the client gave up on: the journal has them once their answer goes out."""
    for route, arrived, seconds in stalled:
        deadline = time.monotonic() + seconds + 5
        while target.count(account=account, route=route) < arrived and time.monotonic() < deadline:
            time.sleep(0.1)


def _keyed(rule: dict[str, Any], key: str, account: str) -> dict[str, Any]:
    """The rule, matching only this case's requests: by key, or (downloads carry none) by account."""
    match = dict(rule.get("match", {}))
    if match.get("route") == "download":
        match["account"] = account
    else:
        match["key"] = key
    return {**rule, "match": match}


def _wall(entry: dict[str, Any], offset: float) -> dict[str, Any]:
    """A journal entry with its wall-clock time (``wall``) beside the emulator's (``time``)."""
    wall = entry["time"] - offset
    stamp = time.strftime("%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}Z"
    return {"wall": stamp, **entry}


def slug(text: str) -> str:
    """``text`` fit for a file name and an API key."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "agent"
