"""The ``retry`` load profile end to end: Locust in a process of its own against a real emulator.

Each run is a few seconds on a fast emulator (``speed``: a task runs ~0.5 s),
and every figure is compared with what the emulator's journal and state say.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from loadrun import load

pytestmark = pytest.mark.e2e
# A generous stop timeout: every job in flight finishes (it is a bound, not a wait, on an idle machine)
SHORT = ("--users", "4", "--spawn-rate", "100", "--duration", "4s", "--stop-timeout", "30")


@pytest.fixture(scope="module")
def emulator():
    from serving import start_server

    server = start_server(clock="real", speed=50.0, journal_size=200_000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def outs(tmp_path_factory) -> dict[str, Path]:
    return {client: tmp_path_factory.mktemp(client) for client in ("reference", "naive")}


@pytest.fixture(scope="module")
def runs(emulator, outs) -> dict[str, dict]:
    """The reference client and the naive one, each on an account of its own, under the same load."""
    return {client: load("retry", emulator.url, out, "--client", client, "--api-key", f"sk-load-{client}", *SHORT)
            for client, out in outs.items()}


def _account(emulator, client: str) -> str:
    return emulator.account(key=f"sk-load-{client}")["account"]


@pytest.mark.parametrize("client", ["reference", "naive"])
def test_the_figures_are_the_journals(emulator, runs, client):
    summary, account = runs[client], _account(emulator, client)
    entries = emulator.requests(account=account)
    assert summary["requests"] == len(entries) > 0
    assert summary["throttled"] == emulator.count(account=account, status=429)
    assert summary["jobs_interrupted"] == summary["jobs_lost"] == 0  # the stop timeout let every job finish
    downloaded = {entry["task_id"] for entry in entries if entry["route"] == "download" and entry["status"] == 200}
    assert summary["jobs_succeeded"] == len(downloaded) > 0  # each success is a task whose image arrived
    assert summary["jobs_started"] == summary["jobs_succeeded"] + summary["jobs_failed"]
    assert summary["checks"]["journal_complete"] is True
    assert summary["tasks"] == summary["checks"]["submits_accepted"] == sum(
        1 for entry in entries if entry["route"] == "submit" and entry["status"] == 200)
    assert summary["duplicates"] == 0
    assert summary["limit_images_per_minute"] > summary["goodput_images_per_minute"] > 0


def test_the_naive_client_is_throttled_more_than_the_reference(runs):
    assert runs["naive"]["throttled"] > runs["reference"]["throttled"]
    assert runs["naive"]["wasted_requests"] > runs["reference"]["wasted_requests"]


def test_reports_and_locust_files_are_written(runs, outs):
    summary, out = runs["reference"], outs["reference"]
    for name in ("task_seconds", "queue_seconds", "run_seconds"):
        figures = summary[name]
        assert set(figures) == {"p50", "p95", "max"} and 0 <= figures["p50"] <= figures["p95"] <= figures["max"]
    assert (out / "report.html").stat().st_size > 0
    rows = (out / "locust_stats.csv").read_text().splitlines()
    names = {row.split(",")[1] for row in rows[1:]}
    assert {"submit→result", "queue wait", "run time"} <= names  # task-level entries in Locust's own tables
    jobs = [json.loads(line) for line in (out / "jobs.jsonl").read_text().splitlines()]
    assert Counter(record["event"] for record in jobs) == {"start": summary["jobs_started"],
                                                           "end": summary["jobs_started"]}


def test_a_client_that_submits_twice_is_caught(emulator, tmp_path):
    summary = load("retry", emulator.url, tmp_path, "--client", "load_clients:twice", "--api-key", "sk-load-twice",
                   "--users", "2", "--spawn-rate", "100", "--duration", "3s", "--stop-timeout", "30")
    assert summary["jobs_lost"] == summary["jobs_interrupted"] == 0
    assert summary["duplicates"] == summary["jobs_started"] > 0
    assert summary["tasks"] == 2 * summary["jobs_started"]


def test_a_success_the_emulator_never_saw_does_not_count(emulator, tmp_path):
    summary = load("retry", emulator.url, tmp_path, "--client", "load_clients:liar", "--api-key", "sk-load-liar",
                   "--users", "2", "--duration", "2s", "--stop-timeout", "5")
    assert summary["checks"]["client_reported_succeeded"] == summary["jobs_started"] > 0
    assert summary["jobs_succeeded"] == summary["requests"] == summary["goodput_images_per_minute"] == 0
    assert summary["jobs_failed"] == summary["jobs_started"]


def test_the_sdk_ends_a_job_on_every_429(emulator, tmp_path):
    """dashscope 2.0.2's call() never retries: a throttled submit surfaces as its own InvalidTask."""
    summary = load("retry", emulator.url, tmp_path, "--client", "sdk", "--api-key", "sk-load-sdk", *SHORT)
    account = emulator.account(key="sk-load-sdk")["account"]
    assert summary["throttled"] == emulator.count(account=account, status=429)
    assert summary["errors"].get("InvalidTask", 0) == summary["throttled"] == summary["jobs_failed"]
    assert summary["jobs_succeeded"] == emulator.count(account=account, route="query", task_status="SUCCEEDED") > 0
