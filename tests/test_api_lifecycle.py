"""The task lifecycle over raw HTTP: exact shapes per state, read off the emulator's clock."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
START = 1709260684.485  # 2024-03-01 10:38:04.485 in China time


@pytest.fixture
def server(make_server):
    return make_server(clock_start=START, seed=7)


def submit_id(server, **body) -> str:
    response = server.submit(**body)
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def test_submit_answers_the_captured_shape(server):
    response = server.submit()
    assert response.headers["content-type"] == "application/json"
    assert response.headers["server"] == "istio-envoy"
    for header in ("req-cost-time", "req-arrive-time", "resp-start-time", "x-envoy-upstream-service-time"):
        assert response.headers[header].isdigit()
    assert response.headers["req-arrive-time"] == "1709260684485"
    assert response.headers["date"] == "Fri, 01 Mar 2024 02:38:04 GMT"  # the emulator's clock, not the wall's
    assert len(response.headers.get_list("date")) == 1
    body = response.json()
    # The 2026 order (the 2024 captures had {"output": {"task_status", "task_id"}, "request_id"}).
    assert list(body) == ["request_id", "output"]
    assert list(body["output"]) == ["task_id", "task_status"]
    assert body["output"]["task_status"] == "PENDING"
    assert UUID4.match(body["output"]["task_id"])
    assert REQUEST_ID.match(body["request_id"])
    assert response.content.startswith(b'{"request_id":"')
    assert response.content.endswith(b'","task_status":"PENDING"}}')
    # The 2026 gateway's submit headers.
    assert response.headers["x-dashscope-call-gateway"] == "true"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["eagleeye-traceid"])
    assert response.headers["x-dashscope-timeout"] == "298"
    assert response.headers["x-request-id"] == body["request_id"]


def test_pending_running_succeeded(server):
    task_id = submit_id(server, parameters={"n": 4})
    pending = server.query(task_id)
    assert pending.headers["content-type"] == "application/json;charset=UTF-8"
    assert pending.json()["output"] == {
        "task_id": task_id,
        "task_status": "PENDING",
        "submit_time": "2024-03-01 10:38:04.485",
        "task_metrics": {"TOTAL": 4, "SUCCEEDED": 0, "FAILED": 0},
    }
    assert "usage" not in pending.json()

    server.advance(1)  # queued at most 0.06 s; runs about 31 s
    running = server.query(task_id).json()["output"]
    assert list(running) == ["task_id", "task_status", "submit_time", "scheduled_time", "task_metrics"]
    assert running["task_status"] == "RUNNING"
    assert re.match(r"^2024-03-01 10:38:04\.(5[0-4]\d)$", running["scheduled_time"])

    server.advance(40)
    done = server.query(task_id).json()
    output = done["output"]
    assert list(done) == ["request_id", "output", "usage"]
    assert list(output) == ["task_id", "task_status", "submit_time", "scheduled_time", "end_time", "results", "task_metrics"]
    assert output["task_status"] == "SUCCEEDED"
    assert re.match(r"^2024-03-01 10:38:(3[3-9]|4[0-4])\.\d{3}$", output["end_time"])
    assert output["task_metrics"] == {"TOTAL": 4, "SUCCEEDED": 4, "FAILED": 0}
    assert done["usage"] == {"image_count": 4}
    assert [list(r) for r in output["results"]] == [["url"]] * 4
    assert len({r["url"] for r in output["results"]}) == 4


def test_result_urls_are_signed_oss_urls_on_the_emulators_host(server):
    task_id = submit_id(server, parameters={"n": 1})
    server.advance(60)
    url = server.query(task_id).json()["output"]["results"][0]["url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == server.url
    # Each image its own object (captured 2024-03), in the Beijing or the Shanghai bucket.
    match = re.match(r"^/dashscope-result-(bj|sh)/[0-9a-f]{2}/[0-9a-f]{2}/20240301/[0-9a-f]{8}/(?P<uuid>[0-9a-f-]{36})-1\.png$", parts.path)
    assert match is not None and UUID4.match(match["uuid"]) and match["uuid"] != task_id
    query = parse_qsl(parts.query)
    assert [key for key, _ in query] == ["Expires", "OSSAccessKeyId", "Signature"]
    end = server.emulator.store.get_task(task_id).ended_at
    assert int(dict(query)["Expires"]) == int(end + 24 * 3600)


def test_public_url_is_the_base_of_result_urls(make_server):
    server = make_server(public_url="https://mock.example:9443")
    task_id = submit_id(server, parameters={"n": 1})
    server.advance(60)
    url = server.query(task_id).json()["output"]["results"][0]["url"]
    assert url.startswith(("https://mock.example:9443/dashscope-result-bj/", "https://mock.example:9443/dashscope-result-sh/"))


def test_newer_models_carry_orig_and_actual_prompt(server):
    task_id = submit_id(server, model="wanx2.1-t2i-turbo", input={"prompt": "一只猫"}, parameters={"n": 2})
    server.advance(60)
    response = server.query(task_id)
    assert "一只猫".encode() in response.content  # raw UTF-8, not \u escapes
    results = response.json()["output"]["results"]
    assert [list(r) for r in results] == [["orig_prompt", "actual_prompt", "url"]] * 2
    assert results[0]["orig_prompt"] == "一只猫"
    assert results[0]["actual_prompt"].startswith("一只猫")

    plain = submit_id(server, model="wanx2.1-t2i-turbo", input={"prompt": "dog"},
                      parameters={"n": 1, "prompt_extend": False})
    server.advance(60)
    assert list(server.query(plain).json()["output"]["results"][0]) == ["orig_prompt", "url"]


def test_worker_side_validation_ends_failed(server):
    task_id = submit_id(server, parameters={"size": "512*512"})
    server.advance(60)
    body = server.query(task_id).json()
    assert "usage" not in body
    output = body["output"]
    assert list(output) == ["task_id", "task_status", "code", "message", "submit_time", "scheduled_time",
                            "end_time", "task_metrics"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == "InvalidParameter"
    assert output["message"] == "The size is not match the allowed size ['1024*1024', '720*1280', '1280*720']"
    assert output["task_metrics"] == {"TOTAL": 4, "SUCCEEDED": 0, "FAILED": 4}


def test_empty_input_fails_with_field_required(server):
    task_id = submit_id(server, input={})
    server.advance(60)
    output = server.query(task_id).json()["output"]
    assert (output["task_status"], output["message"]) == ("FAILED", "Field required: input.prompt")


@pytest.mark.parametrize("task_id", ["no-such-task", "6075262c-b56d-4968-9abf-2a9784a90f3e"])
def test_unknown_task_reads_unknown(server, task_id):
    response = server.query(task_id)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["request_id", "output"]
    assert body["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}


def test_another_accounts_task_reads_unknown(server):
    task_id = submit_id(server, key="sk-alice")
    assert server.query(task_id, key="sk-bob").json()["output"]["task_status"] == "UNKNOWN"
    assert server.query(task_id, key="sk-alice").json()["output"]["task_status"] == "PENDING"


def test_a_task_reads_unknown_24_hours_after_it_ended(server):
    task_id = submit_id(server, parameters={"n": 1})
    server.advance(60)
    end = server.emulator.store.get_task(task_id).ended_at
    server.advance(end + 24 * 3600 - server.emulator.clock.now() - 1)
    assert server.query(task_id).json()["output"]["task_status"] == "SUCCEEDED"
    server.advance(2)
    assert server.query(task_id).json()["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}


def test_retention_is_configurable(make_server):
    server = make_server(retention_hours=1)
    task_id = submit_id(server, parameters={"n": 1})
    server.advance(60 + 3600)
    assert server.query(task_id).json()["output"]["task_status"] == "UNKNOWN"


def test_a_task_running_past_the_timeout_fails_with_internal_timeout(make_server):
    server = make_server(task_timeout_hours=0.005)  # 18 s, shorter than any wanx-v1 run
    task_id = submit_id(server, parameters={"n": 1})
    server.advance(17)
    assert server.query(task_id).json()["output"]["task_status"] == "RUNNING"
    server.advance(2)
    output = server.query(task_id).json()["output"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == "InternalError.Timeout"
    assert output["message"] == ("An internal timeout error has occured during execution, please try again later "
                                 "or contact service support.")


def test_speed_scales_durations(make_server):
    server = make_server(speed=100)
    task_id = submit_id(server, parameters={"n": 4})
    server.advance(0.5)  # 31 s / 100 = 0.31 s
    assert server.query(task_id).json()["output"]["task_status"] == "SUCCEEDED"


def test_infinite_speed_ends_tasks_at_once(make_server):
    server = make_server(speed=float("inf"))
    task_id = submit_id(server)
    assert server.query(task_id).json()["output"]["task_status"] == "SUCCEEDED"


def test_a_seed_repeats_task_ids(make_server):
    first, second = make_server(seed=42), make_server(seed=42)
    assert [submit_id(first), submit_id(first)] == [submit_id(second), submit_id(second)]
