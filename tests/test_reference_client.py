"""The raw-HTTP reference client (conformance.clients.reference) against a real emulator on loopback."""

from __future__ import annotations

import pytest

from conformance.clients.reference import cancel, generate


@pytest.fixture
def live(make_server, monkeypatch):
    """An emulator whose tasks end at once, and the client's environment pointing at it."""
    server = make_server(clock="real", speed=float("inf"))
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", server.api)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-ref")
    return server


def test_a_partial_failure_passes_on_two_files_and_two_failures(live, tmp_path):
    result = generate("wanx-v1", {"prompt": "a cat [mock:partial=2/4]"}, {"n": 4}, out_dir=str(tmp_path))
    assert list(result) == ["task_id", "status", "urls", "files", "failed", "error"]
    assert result["status"] == "SUCCEEDED" and result["error"] is None
    assert len(result["urls"]) == 2 and [p.endswith(".png") for p in result["files"]] == [True, True]
    assert [(f["index"], f["code"]) for f in result["failed"]] == [(2, "DataInspectionFailed"), (3, "DataInspectionFailed")]
    assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG") for name in [p.split("/")[-1] for p in result["files"]])


def test_a_throttled_submit_is_retried_with_backoff(live):
    live.throttle("submit", n=2)
    result = generate("wanx-v1", {"prompt": "a cat"}, {"n": 1})
    submits = live.requests(route="submit")
    assert [entry["status"] for entry in submits] == [429, 429, 200]
    assert all(later["time"] - earlier["time"] >= 0.5 for earlier, later in zip(submits, submits[1:]))
    assert result["status"] == "SUCCEEDED"


def test_a_refused_submit_is_reported_and_not_retried(live):
    live.http_error("InvalidParameter", route="submit")
    result = generate("wanx-v1", {"prompt": "a cat"}, {"n": 1})
    assert result["status"] == "ERROR" and result["error"]["code"] == "InvalidParameter"
    assert live.count(route="submit", status=400) == 1


def test_a_submit_reset_after_sending_is_not_sent_again(live):
    live.network("reset", route="submit")
    result = generate("wanx-v1", {"prompt": "a cat"}, {"n": 1})
    assert result["status"] == "ERROR" and result["error"]["code"] == "OutcomeUnknown"
    assert live.count(route="submit") == 1


def test_failed_task_unknown_id_and_deadline(live):
    failed = generate("wanx-v1", {"prompt": "a cat [mock:fail=InternalError.Timeout]"}, {"n": 1})
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "InternalError.Timeout"
    stuck = generate("wanx-v1", {"prompt": "a cat [mock:stuck]"}, {"n": 1}, timeout_seconds=1.5)
    assert stuck["status"] == "TIMEOUT"


def test_polls_survive_throttling_and_5xx(live):
    live.throttle("query", n=1)
    live.http_error("ModelUnavailable", route="query", n=1)
    result = generate("wanx-v1", {"prompt": "a cat"}, {"n": 1})
    assert result["status"] == "SUCCEEDED"
    assert [entry["status"] for entry in live.requests(route="query")] == [429, 503, 200]


def test_cancel_of_a_pending_task_and_of_a_finished_one(live):
    pending = cancel("wanx-v1", {"prompt": "a cat [mock:pending=1h]"}, {"n": 1})
    assert pending["status"] == "CANCELED" and pending["error"] is None
    finished = cancel("wanx-v1", {"prompt": "a cat"}, {"n": 1})
    assert finished["status"] == "SUCCEEDED" and finished["error"]["code"] == "UnsupportedOperation"
