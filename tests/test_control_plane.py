"""Fault rule matching, the journal, the timeline, and the admin API's clock, seed, reset and guard."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mockserver.settings.config import Settings
from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app

KEY = "sk-control"


def add(server, **body) -> httpx.Response:
    return server.client.post("/__mock/faults", json=body)


def task_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def status(server, task_id: str, key: str = KEY) -> str:
    return server.query(task_id, key=key).json()["output"]["task_status"]


# -- rules ---------------------------------------------------------------------------


def test_rule_matches_key_model_and_prompt(server):
    add(server, match={"key": "sk-b", "prompt": "^dog", "model": "wanx-v1"}, fail={"code": "InternalError"})
    hit = task_of(server.submit(key="sk-b", input={"prompt": "dog on a sofa"}))
    other_key = task_of(server.submit(key="sk-a", input={"prompt": "dog on a sofa"}))
    other_prompt = task_of(server.submit(key="sk-b", input={"prompt": "a dog"}))
    server.advance(4 * 3600)
    assert status(server, hit, "sk-b") == "FAILED"
    assert status(server, other_key, "sk-a") == "SUCCEEDED"
    assert status(server, other_prompt, "sk-b") == "SUCCEEDED"


def test_rule_matches_the_account_id(make_server):
    server = make_server(accounts=[{"id": "team", "keys": ["sk-1", "sk-2"]}])
    add(server, match={"account": "team"}, http={"code": "Throttling"})
    assert server.query("x", key="sk-2").status_code == 429
    assert server.query("x", key="sk-other").status_code == 200


def test_nth_matching_request_and_count(server):
    add(server, match={"route": "query"}, http={"code": "InternalError"}, nth=3, count=2)
    codes = [server.query("x", key=KEY).status_code for _ in range(6)]
    assert codes == [200, 200, 500, 500, 200, 200]
    described = server.client.get("/__mock/faults").json()["rules"][0]
    assert (described["seen"], described["fired"], described["remaining"]) == (6, 2, 0)


def test_probability_is_reproducible_with_a_seed(make_server):
    def pattern(server) -> list[int]:
        add(server, match={"route": "query"}, http={"code": "InternalError"}, probability=0.5)
        return [server.query("x", key=KEY).status_code for _ in range(24)]

    first, second = pattern(make_server(seed=7)), pattern(make_server(seed=7))
    assert first == second
    assert 200 in first and 500 in first


def test_rules_listed_removed_and_cleared(server):
    one = add(server, http={"code": "InternalError"}).json()["rules"][0]["id"]
    add(server, rules=[{"fail": {"code": "InternalError"}}, {"stuck": True}])
    assert len(server.client.get("/__mock/faults").json()["rules"]) == 3
    assert server.client.delete(f"/__mock/faults/{one}").json() == {"removed": one}
    assert server.client.delete(f"/__mock/faults/{one}").status_code == 404
    assert server.client.delete("/__mock/faults").json() == {"rules": []}
    assert server.query("x", key=KEY).status_code == 200


@pytest.mark.parametrize(
    "body, words",
    [
        ({"fail": {"code": "NoSuchCode"}}, "unknown error code"),
        ({"http": {"code": "InvalidApiKey", "variant": "nope"}}, "no message variant"),
        ({"fail": {"code": "InternalError"}, "http": {"code": "InternalError"}}, "not both"),
        ({"match": {"route": "query"}, "fail": {"code": "InternalError"}}, "route must be submit"),
        ({"match": {"prompt": "("}, "fail": {"code": "InternalError"}}, "regular expression"),
        ({"network": {"kind": "stall", "seconds": 10_000}}, "network.seconds"),
        ({"probability": 2, "stuck": True}, "probability"),
        ({}, "neither"),
    ],
)
def test_bad_rules_are_a_clear_400(server, body, words):
    response = add(server, **body)
    assert response.status_code == 400
    assert words in response.json()["message"]
    assert server.client.get("/__mock/faults").json() == {"rules": []}


def test_rules_from_the_config_file_survive_a_reset(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text("faults:\n  - match: {route: query}\n    http: {code: ModelUnavailable}\n    count: 1\n")
    emulator = Emulator(Settings.from_file(config))
    assert emulator.faults.rules.describe()[0]["http"] == {"code": "ModelUnavailable"}
    emulator.faults.rules.clear()
    emulator.reset()
    assert len(emulator.faults.rules.describe()) == 1


def test_config_file_rejects_an_unknown_effect(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text("faults:\n  - explode: true\n")
    with pytest.raises(ValueError, match="explode"):
        Settings.from_file(config)


# -- directives ----------------------------------------------------------------------------


def test_unknown_directive_is_a_clear_400(server):
    response = server.submit(key=KEY, input={"prompt": "x [mock:explode=1]"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "unknown mock directive 'explode'" in response.json()["message"]
    response = server.submit(key=KEY, input={"prompt": "x [mock:fail=NoSuchCode]"})
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")


def test_directives_switched_off(make_server):
    server = make_server(directives=False)
    task_id = task_of(server.submit(key=KEY, model="wanx2.1-t2i-turbo",
                                    input={"prompt": "cat [mock:fail=InternalError]"}, parameters={"n": 1}))
    assert server.query(task_id, key=KEY).status_code == 200
    server.client.headers["X-Mock-Directive"] = "http=InternalError"
    server.advance(4 * 3600)
    answer = server.query(task_id, key=KEY).json()["output"]
    assert answer["task_status"] == "SUCCEEDED"
    assert answer["results"][0]["orig_prompt"] == "cat [mock:fail=InternalError]"


# -- journal and timeline ------------------------------------------------------------------------


def test_journal_is_bounded(make_server):
    server = make_server(journal_size=5)
    for _ in range(8):
        server.query("x", key=KEY)
    entries = server.client.get("/__mock/requests").json()
    assert entries["total"] == 5
    assert [entry["seq"] for entry in entries["requests"]] == [4, 5, 6, 7, 8]


def pages(server, **params) -> list[dict]:
    """Every entry, page by page (``after``/``limit``/``next``), as a client of the paging reads them."""
    entries, after = [], 0
    while after is not None:
        page = server.client.get("/__mock/requests", params={**params, "after": after}).json()
        entries += page["requests"]
        after = page["next"]
    return entries


def test_journal_pages_return_every_entry_exactly_once(make_server):
    server = make_server(journal_size=40)
    for index in range(47):  # past the journal's size: the first 7 are gone, the pages start at the oldest kept
        server.query(f"t{index}", key=KEY if index % 3 else "sk-else")
    whole = server.client.get("/__mock/requests").json()["requests"]
    assert [entry["seq"] for entry in whole] == list(range(8, 48))
    for limit in (1, 7, 40, 10000):
        assert pages(server, limit=limit) == whole
    mine = server.client.get("/__mock/requests", params={"key": KEY}).json()["requests"]
    assert pages(server, limit=5, key=KEY) == mine and len(mine) == 27
    page = server.client.get("/__mock/requests", params={"after": 45, "limit": 5}).json()
    assert [entry["seq"] for entry in page["requests"]] == [46, 47] and page["next"] is None
    server.client.post("/__mock/reset", json={"key": "sk-else"})  # one account's entries leave: gaps in the seqs
    assert pages(server, limit=4) == mine
    for bad in ({"after": 0, "limit": 0}, {"after": 0, "limit": 10001}, {"after": -1}, {"after": "x"}):
        answer = server.client.get("/__mock/requests", params=bad)
        assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter", bad


def test_the_load_summary_reads_the_journal_by_pages_and_sees_what_was_dropped(make_server, monkeypatch):
    from mockserver.loadtest import observe

    monkeypatch.setattr(observe, "JOURNAL_PAGE", 3)
    server = make_server(journal_size=10)
    plane = observe.ControlPlane(server.url)
    try:
        mark = plane.mark()
        for index in range(8):
            server.query(f"t{index}", key=KEY)
        entries, complete = plane.journal_after(mark.seq)
        assert [entry["task_id"] for entry in entries] == [f"t{index}" for index in range(8)] and complete
        for index in range(8, 14):  # 14 past the mark, 10 kept: the run's first four are gone
            server.query(f"t{index}", key=KEY)
        entries, complete = plane.journal_after(mark.seq)
        assert [entry["task_id"] for entry in entries] == [f"t{index}" for index in range(4, 14)] and not complete
    finally:
        plane.close()


def test_journal_filters_and_counts(server):
    task_id = task_of(server.submit(key=KEY))
    server.query(task_id, key=KEY)
    server.query("other", key="sk-else")
    server.client.get("/__mock/health")  # the control plane is not journaled
    journal = server.client.get("/__mock/requests", params={"key": KEY}).json()
    assert [(e["route"], e["task_id"], e["status"]) for e in journal["requests"]] == [
        ("submit", task_id, 200), ("query", task_id, 200)]
    first = journal["requests"][0]
    assert first["model"] == "wanx-v1" and first["method"] == "POST" and first["task_status"] == "PENDING"
    assert first["time"] == server.emulator.clock.now()
    count = server.client.get("/__mock/requests/count", params={"route": "query"}).json()
    assert count == {"count": 2}
    assert server.client.get("/__mock/requests", params={"limit": 1}).json()["requests"][0]["task_id"] == "other"
    assert server.client.get("/__mock/requests", params={"status": "x"}).status_code == 400
    server.client.delete("/__mock/requests")
    assert server.client.get("/__mock/requests/count").json() == {"count": 0}


def test_timeline_tells_how_the_client_polled(server):
    task_id = task_of(server.submit(key=KEY, parameters={"n": 1}))
    server.query(task_id, key=KEY)
    add(server, match={"route": "query"}, http={"code": "Throttling.RateQuota"}, count=1)
    server.advance(1)
    server.query(task_id, key=KEY)
    server.advance(3600)
    server.query(task_id, key=KEY)
    events = server.client.get(f"/__mock/tasks/{task_id}/timeline").json()["timeline"]
    assert [(e["event"], e.get("task_status")) for e in events] == [
        ("submit", "PENDING"), ("transition", "PENDING"), ("poll", "PENDING"), ("transition", "RUNNING"),
        ("throttled", None), ("transition", "SUCCEEDED"), ("poll", "SUCCEEDED")]
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


def test_timeline_of_an_unknown_task_is_a_404(server):
    missing = server.client.get("/__mock/tasks/no-such-task/timeline")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert "no task no-such-task" in missing.json()["message"]
    server.query("never-submitted", key=KEY)  # a client polled it: the journal knows the id
    polled = server.client.get("/__mock/tasks/never-submitted/timeline").json()["timeline"]
    assert [(e["event"], e["task_status"]) for e in polled] == [("poll", "UNKNOWN")]
    assert polled[0]["at"].endswith(" +08:00")  # times shown to people say their zone


def test_timeline_of_a_cancel(server):
    task_id = task_of(server.submit(key=KEY, input={"prompt": "x [mock:pending=1h]"}))
    assert server.client.post(f"/api/v1/tasks/{task_id}/cancel", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    events = server.client.get(f"/__mock/tasks/{task_id}/timeline").json()["timeline"]
    assert [(e["event"], e.get("task_status")) for e in events] == [
        ("submit", "PENDING"), ("transition", "PENDING"), ("cancel", None), ("transition", "CANCELED")]


def test_timeline_shows_result_downloads_with_their_status(make_server):
    server = make_server(result_url_hours=1)
    task_id = task_of(server.submit(key=KEY, parameters={"n": 1}))
    server.advance(600)
    url = server.query(task_id, key=KEY).json()["output"]["results"][0]["url"]
    first = server.client.get(url)
    assert first.status_code == 200
    assert server.client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert server.client.head(url).status_code == 200
    server.advance(2 * 3600)  # past Expires
    assert server.client.get(url).status_code == 403
    events = server.client.get(f"/__mock/tasks/{task_id}/timeline").json()["timeline"]
    downloads = [(e["event"], e["status"]) for e in events if e["event"] == "download"]
    assert downloads == [("download", 200), ("download", 304), ("download", 200), ("download", 403)]
    assert [e["event"] for e in events].index("download") > [e.get("task_status") for e in events].index("SUCCEEDED")
    logged = server.client.get("/__mock/requests", params={"route": "download", "method": "HEAD"}).json()["requests"]
    assert [(e["task_id"], e["model"], e["status"]) for e in logged] == [(task_id, "wanx-v1", 200)]
    assert logged[0]["request_id"] and logged[0]["account"] == server.client.get(
        "/__mock/requests", params={"route": "submit"}).json()["requests"][0]["account"]


# -- clock, seed, reset --------------------------------------------------------------------------


def test_clock_set_freeze_resume(make_server):
    server = make_server()
    now = server.emulator.clock.now()
    assert server.client.post("/__mock/clock/set", json={"time": now + 86400}).json()["now"] == now + 86400
    assert server.client.post("/__mock/clock/set", json={"time": now}).status_code == 400
    assert server.client.post("/__mock/clock/resume", json={"rate": 60}).json()["mode"] == "scaled"
    assert server.client.post("/__mock/clock/resume").json()["mode"] == "real"
    frozen = server.client.post("/__mock/clock/freeze").json()
    assert frozen["mode"] == "manual"
    assert server.client.get("/__mock/clock").json()["now"] == frozen["now"]
    assert server.client.post("/__mock/clock/resume", json={"rate": -1}).status_code == 400


def test_seed_makes_task_ids_repeat(server):
    ids = []
    for _ in range(2):
        assert server.client.post("/__mock/reset", json={}).status_code == 200
        assert server.client.post("/__mock/seed", json={"seed": 42}).json() == {"seed": 42}
        ids.append(task_of(server.submit(key=KEY)))
        server.advance(1)  # past the submit rate window
    assert ids[0] == ids[1]
    assert server.client.post("/__mock/seed", json={"seed": 42}).status_code == 200
    again = task_of(server.submit(key=KEY))  # without a reset the id is taken: the next one is drawn
    assert again != ids[0] and status(server, ids[0], KEY) != "UNKNOWN"
    assert server.client.post("/__mock/seed", json={"seed": "x"}).status_code == 400


def test_reset_one_account_by_key(server):
    mine, theirs = task_of(server.submit(key="sk-mine")), task_of(server.submit(key="sk-theirs"))
    assert server.client.post("/__mock/reset", json={"key": "sk-mine"}).status_code == 200
    assert status(server, mine, "sk-mine") == "UNKNOWN"
    assert status(server, theirs, "sk-theirs") == "PENDING"
    assert server.client.get("/__mock/requests/count", params={"route": "submit"}).json() == {"count": 1}


# -- the guard -------------------------------------------------------------------------------------


def _from(app, host: str, *requests_: tuple[str, str, dict]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return [await client.request(method, path, headers=headers) for method, path, headers in requests_]

    return asyncio.run(run())


def test_control_plane_refused_off_loopback_without_a_token():
    app = create_app(Settings(clock="manual"))
    refused, api = _from(app, "192.0.2.10", ("GET", "/__mock/health", {}),
                         ("GET", "/api/v1/tasks/x", {"Authorization": f"Bearer {KEY}"}))
    assert refused.status_code == 403 and refused.json()["code"] == "AccessDenied"
    assert api.status_code == 200  # DashScope's routes serve everyone
    (allowed,) = _from(app, "127.0.0.1", ("GET", "/__mock/health", {}))
    assert allowed.status_code == 200


def test_control_plane_with_a_token():
    app = create_app(Settings(clock="manual", admin_token="s3cret"))
    missing, wrong, bearer, header, loopback = _from(
        app, "192.0.2.10",
        ("GET", "/__mock/health", {}),
        ("GET", "/__mock/health", {"X-Mock-Admin-Token": "nope"}),
        ("GET", "/__mock/health", {"Authorization": "Bearer s3cret"}),
        ("GET", "/__mock/health", {"X-Mock-Admin-Token": "s3cret"}),
    ) + _from(app, "127.0.0.1", ("GET", "/__mock/faults", {}))
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (bearer.status_code, header.status_code) == (200, 200)
    assert loopback.status_code == 401  # with a token, every client needs it


def test_network_fault_in_process_raises():
    from mockserver.http.edge import NetworkFault

    app = create_app(Settings(clock="manual"))
    with pytest.raises(NetworkFault):
        _from(app, "127.0.0.1", ("GET", "/api/v1/tasks/x", {"Authorization": f"Bearer {KEY}", "X-Mock-Directive": "network=reset"}))


# -- logging -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_one_structured_log_line_per_request(make_server, caplog, fmt):
    import json

    server = make_server(log_format=fmt)
    caplog.set_level("INFO", logger="mockserver.requests")
    task_id = task_of(server.submit(key=KEY))
    server.client.get("/__mock/health")
    lines = [record.getMessage() for record in caplog.records if record.name == "mockserver.requests"]
    assert len(lines) == 1
    if fmt == "json":
        assert {"route": "submit", "status": 200, "task_id": task_id}.items() <= json.loads(lines[0]).items()
    else:
        assert lines[0].startswith("POST /api/v1/services/aigc/text2image/image-synthesis ")
        assert f"task_id={task_id}" in lines[0] and "status=200" in lines[0]


def test_control_plane_calls_are_logged(make_server, caplog):
    server = make_server()
    caplog.set_level("INFO", logger="mockserver.control")
    server.advance(5)
    server.client.get("/__mock/faults")  # a read: DEBUG, not shown at INFO
    lines = [record.getMessage() for record in caplog.records if record.name == "mockserver.control"]
    assert lines == ["control POST /__mock/clock/advance status=200"]
    caplog.set_level("DEBUG", logger="mockserver.control")
    server.client.get("/__mock/tasks", params={"status": "nope"})
    assert caplog.records[-1].getMessage() == "control GET /__mock/tasks?status=nope status=400"


def test_cli_takes_the_log_format():
    from mockserver.cli import _parser, _settings

    assert _settings(_parser().parse_args(["serve", "--log-format", "json"])).log_format == "json"


def test_a_refused_submit_does_not_use_up_a_plan_rule(make_server):
    server = make_server(accounts=[{"id": "slow", "keys": [KEY], "limits": {"*": {"submit_per_second": 1}}}])
    task_of(server.submit(key=KEY))
    add(server, fail={"code": "InternalError"}, count=1)
    assert server.submit(key=KEY).status_code == 429  # throttled: the rule is not spent on it
    assert server.client.get("/__mock/faults").json()["rules"][0]["fired"] == 0
    server.advance(1)
    failed = task_of(server.submit(key=KEY))
    server.advance(4 * 3600)
    assert status(server, failed) == "FAILED"


def test_cli_refuses_a_config_rule_with_an_unknown_code(tmp_path, capsys):
    from mockserver.cli import main

    config = tmp_path / "mock.yaml"
    config.write_text("port: 0\nfaults:\n  - fail: {code: NoSuchCode}\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert "unknown error code 'NoSuchCode'" in capsys.readouterr().err
