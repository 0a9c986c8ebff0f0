"""GET /__mock/metrics on a live server: the counters equal what the journal recorded, labels stay bounded."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

KEY, OTHER = "sk-metrics", "sk-metrics-2"


def scrape(server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of one scrape."""
    response = server.client.get("/__mock/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")  # the text exposition format
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def journal_count(server, **filters) -> int:
    return server.client.get("/__mock/requests/count", params=filters).json()["count"]


def test_counters_equal_the_journal_after_a_scripted_sequence(make_server):
    server = make_server(accounts=[{"id": "acme", "keys": [KEY], "limits": {"wanx-v1": {"submit_per_second": 1}}}])
    first = server.submit(key=KEY, parameters={"n": 1}).json()["output"]["task_id"]
    assert server.submit(key=KEY).status_code == 429  # one submit a second
    server.advance(1)
    server.submit(key=KEY, model="no-such-model")  # a 400, its model label folded into "other"
    for _ in range(3):
        assert server.query(first, key=KEY).status_code == 200
    assert server.client.get(f"/api/v1/tasks/{first}").status_code == 401
    server.client.post("/__mock/faults", json={"match": {"route": "query"}, "http": {"code": "InternalError"}, "count": 1})
    assert server.query(first, key=KEY).status_code == 500
    server.advance(60)
    url = server.query(first, key=KEY).json()["output"]["results"][0]["url"]
    assert server.client.get(url.removeprefix(server.url)).status_code == 200

    metrics = scrape(server)
    requests = {labels: value for (name, labels), value in metrics.items() if name == "dashscope_mock_requests_total"}
    assert sum(requests.values()) == journal_count(server) == 10
    for labels, value in requests.items():
        fields = dict(labels)
        status = {} if fields["status"] == "none" else {"status": fields["status"]}
        account = {} if fields["account"] == "none" else {"account": fields["account"]}
        assert value == journal_count(server, route=fields["route"], **status, **account), fields
    assert metrics[("dashscope_mock_throttled_total", (("account", "acme"), ("reason", "Throttling.RateQuota")))] == 1
    assert journal_count(server, code="Throttling.RateQuota") == 1
    assert metrics[("dashscope_mock_submits_total", (("account", "acme"), ("model", "wanx-v1")))] == 1
    assert metrics[("dashscope_mock_fault_firings_total", (("fault", "http:InternalError"),))] == journal_count(
        server, fault="http:InternalError") == 1
    assert metrics[("dashscope_mock_result_downloads_total", (("status", "200"),))] == journal_count(
        server, route="download") == 1
    assert metrics[("dashscope_mock_tasks", (("model", "wanx-v1"), ("state", "SUCCEEDED")))] == 1
    assert metrics[("dashscope_mock_journal_entries", ())] == 10
    assert metrics[("process_resident_memory_bytes", ())] > 0


def test_queue_depth_and_wait_per_account_and_model(make_server):
    server = make_server()  # wanx-v1 runs one task at a time: the second waits
    server.submit(key=KEY)
    server.submit(key=KEY)
    server.advance(5)
    metrics = scrape(server)
    lane = (("account", server.emulator.authenticate(f"Bearer {KEY}").id), ("model", "wanx-v1"))
    assert metrics[("dashscope_mock_queue_depth", lane)] == 1
    assert metrics[("dashscope_mock_queue_oldest_wait_seconds", lane)] == 5
    assert metrics[("dashscope_mock_tasks", (("model", "wanx-v1"), ("state", "PENDING")))] == 1
    assert metrics[("dashscope_mock_tasks", (("model", "wanx-v1"), ("state", "RUNNING")))] == 1


def test_accounts_past_the_limit_share_the_other_label(make_server):
    server = make_server(metrics_accounts=1)
    server.submit(key=KEY)
    server.submit(key=OTHER)
    labels = {dict(labels)["account"] for (name, labels) in scrape(server) if name == "dashscope_mock_requests_total"}
    assert labels == {server.emulator.authenticate(f"Bearer {KEY}").id, "other"}


def test_journal_entries_by_position_are_the_entries_by_name():
    """The request paths journal positionally (cheaper); the entry and its count are what keywords give."""
    from mockserver.domain.journal import Journal

    named = dict(time=5.0, account="a", method="POST", path="/p", route="submit", status=429, request_id="r",
                 latency_ms=1.5, task_id=None, task_status=None, model="wanx-v1", fault=None, code="Throttling")
    by_name, by_position = Journal(10), Journal(10)
    assert by_name.record(**named).as_dict() == by_position.record(*named.values()).as_dict()
    assert by_name.totals() == by_position.totals()
    assert by_position.totals()["throttled"] == {("Throttling", "a"): 1}


def test_latencies_are_kept_to_the_microsecond_as_round_gives_them(monkeypatch):
    import random

    from mockserver.http import edge

    draws = random.Random(7)
    for _ in range(2000):
        started, elapsed = draws.uniform(0, 1e5), draws.choice([draws.uniform(0, 0.01), draws.uniform(0, 5)])
        monkeypatch.setattr(edge.time, "perf_counter", lambda: started + elapsed)
        assert edge.latency_ms(started) == round(((started + elapsed) - started) * 1000, 3)
