"""Runs the adapter once per case on its own account, and grades what it did and said.

Cases run ``jobs`` at a time; a case that moves the emulator's shared clock
(``exclusive``) runs alone after the others.
"""

from __future__ import annotations

import json
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

    def wait_for(self, route: str, timeout: float = 20.0) -> dict[str, Any] | None:
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
    key = f"sk-conformance-{_slug(agent)}-{case.id}-{secrets.token_hex(4)}"  # a fresh account per run
    account = target.account(key=key)["account"]
    if case.account:
        target.set_account(key=key, **case.account)
    rules = [target.add_rule(**_keyed(rule, key, account))["id"] for rule in case.faults]
    out_dir = work / f"{_slug(agent)}-{case.id}"
    job = case.job(str(out_dir))
    env = {**os.environ, **contract.environment(target.base_url, key, case.id, job)}
    offset = target.now() - time.time()  # the emulator's clock minus the wall clock
    started = time.monotonic()
    try:
        process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, encoding="utf-8", errors="replace", start_new_session=True)
    except OSError as error:
        raise AdapterNotStarted(f"cannot run {' '.join(command)}: {error}") from None
    if case.during is not None:
        threading.Thread(target=case.during, args=(_Stage(target, account),), daemon=True).start()
    overran = False
    try:
        stdout, stderr = process.communicate(timeout=case.timeout_seconds + GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        overran = True
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    finally:
        stalled = _stalled(target, rules)
        for rule_id in rules:
            target.remove_rule(rule_id)
    duration = round(time.monotonic() - started, 2)
    _settle(target, account, stalled)
    journal = target.requests(account=account)
    requests = [_wall(entry, offset) for entry in journal]
    results, finding = None, None
    if overran:
        finding = broken(f"overran its timeout_seconds ({case.timeout_seconds:g} s) by {GRACE_SECONDS:g} s: killed")
    elif process.returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-4:]) or "nothing on stderr"
        finding = broken(f"the adapter exited with status {process.returncode}: {tail[-400:]}")
    else:
        try:
            results = contract.parse(stdout, case.tasks)
        except contract.ContractError as error:
            finding = broken(f"broke the adapter contract: {error}")
    run_ = CaseRun(case, Grade.FAILED, "", duration, requests, results, process.returncode, stdout, stderr)
    if finding is not None:
        run_.observed = finding.observed  # a crash, bad output or overrun fails whatever the level
    elif results is None:
        run_.grade, run_.observed = Grade.UNIMPLEMENTED, "the adapter says its client has no such action"
    else:
        finding = _checked(case, Observation(job, results, journal))
        run_.grade, run_.observed = grade_of(finding, case.level, strict), finding.observed
    return run_


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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "agent"


def report_json(agent: str, runs: Sequence[CaseRun]) -> dict[str, Any]:
    """``AGENT.json``: the agent, one summary per case, and the count of each grade."""
    summary = {grade.value: sum(1 for case_run in runs if case_run.grade is grade) for grade in Grade}
    return {"agent": agent, "cases": [case_run.summary() for case_run in runs], "summary": summary}


def details_json(agent: str, runs: Sequence[CaseRun]) -> str:
    return json.dumps({"agent": agent, "cases": [case_run.detail() for case_run in runs]}, indent=1)
