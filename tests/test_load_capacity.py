"""The ``capacity`` load profile end to end: many accounts, the SDK's cadence, a ramp; checked against the journal."""

from __future__ import annotations

import pytest

from loadrun import load
from mockserver.loadtest.stages import ramp

pytestmark = pytest.mark.e2e


def test_a_short_ramp_is_measured_and_matches_the_journal(make_server, tmp_path):
    emulator = make_server(clock="real", speed=50.0, journal_size=200_000)
    summary = load("capacity", emulator.url, tmp_path, "--users", "5", "--duration", "10s", "--stop-timeout", "10")
    entries = emulator.requests()
    assert summary["requests"] == len(entries) > 0
    assert summary["accounts"] == len({entry["account"] for entry in entries}) == 5  # one account a user
    routes = summary["requests_by_route"]
    assert routes["submit"] == summary["tasks"] == summary["jobs_started"]
    assert {"query", "download", "list"} <= set(routes)
    downloaded = {entry["task_id"] for entry in entries if entry["route"] == "download" and entry["status"] == 200}
    assert summary["jobs_succeeded"] == len(downloaded) > 0
    assert summary["throttled"] == 0 and summary["jobs_lost"] == summary["jobs_interrupted"] == 0
    steps = summary["stages"]
    assert steps and {step["users"] for step in steps} <= set(ramp(5))
    assert summary["knee_users"] in {step["users"] for step in steps}
    assert all(step["requests_per_second"] > 0 for step in steps)
    assert (tmp_path / "report.html").exists() and (tmp_path / "locust_stats_history.csv").exists()
