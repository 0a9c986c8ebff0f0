"""Concurrency queues, cancel and throttling over raw HTTP."""

import pytest

from test_api_lifecycle import START, submit_id

AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def server(make_server):
    return make_server(clock_start=START, seed=3)


def status(server, task_id, key="sk-test"):
    return server.query(task_id, key=key).json()["output"]["task_status"]


def test_tasks_over_the_concurrency_limit_wait_in_fifo_order(server):
    first = submit_id(server, parameters={"n": 1})
    second = submit_id(server, parameters={"n": 1})  # wanx-v1 runs one task at a time
    server.advance(1)
    assert (status(server, first), status(server, second)) == ("RUNNING", "PENDING")
    server.advance(40)
    one, two = (server.query(t).json()["output"] for t in (first, second))
    assert one["task_status"] == "SUCCEEDED"
    assert two["task_status"] == "RUNNING"
    assert two["scheduled_time"] == one["end_time"]  # it got the slot the moment it freed


def test_cancel_a_queued_task(server):
    first = submit_id(server, parameters={"n": 1})
    second = submit_id(server, parameters={"n": 1})
    server.advance(1)
    canceled = server.client.post(f"/api/v1/tasks/{second}/cancel", headers=AUTH)
    assert canceled.status_code == 200
    assert list(canceled.json()) == ["request_id"]
    output = server.query(second).json()["output"]
    assert output["task_status"] == "CANCELED"
    assert output["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0}
    assert status(server, first) == "RUNNING"


def test_cancel_frees_the_queue_position(server):
    first = submit_id(server, parameters={"n": 1})
    second = submit_id(server, parameters={"n": 1})
    server.advance(1)
    third = submit_id(server, parameters={"n": 1})
    assert server.client.post(f"/api/v1/tasks/{second}/cancel", headers=AUTH).status_code == 200
    server.advance(40)
    one, three = (server.query(t).json()["output"] for t in (first, third))
    assert three["task_status"] == "RUNNING"
    assert three["scheduled_time"] == one["end_time"]


def test_the_asyncio_sdks_cancel_body_is_accepted(server):
    submit_id(server)
    queued = submit_id(server)
    response = server.client.post(f"/api/v1/tasks/{queued}/cancel/", headers=AUTH,
                                  json={"model": "", "parameters": {}, "input": ""})
    assert response.status_code == 200


@pytest.mark.parametrize("when", ["running", "succeeded", "canceled", "unknown"])
def test_cancel_of_anything_but_pending_is_refused(server, when):
    task_id = submit_id(server, parameters={"n": 1})
    if when == "running":
        server.advance(1)
    elif when == "succeeded":
        server.advance(60)
    elif when == "canceled":
        assert server.client.post(f"/api/v1/tasks/{task_id}/cancel", headers=AUTH).status_code == 200
    else:
        task_id = "no-such-task"
    response = server.client.post(f"/api/v1/tasks/{task_id}/cancel", headers=AUTH)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json;charset=UTF-8"  # captured 2024-03
    body = response.json()
    assert list(body) == ["request_id", "code", "message"]  # captured 2024-03
    assert body["code"] == "UnsupportedOperation"
    assert body["message"] == "Failed to cancel the task, please confirm if the task is in PENDING status."
    assert response.headers["x-request-id"] == body["request_id"]


def test_submit_rate_is_limited_per_account_and_model(server):
    assert [server.submit().status_code for _ in range(2)] == [200, 200]
    throttled = server.submit()
    assert throttled.status_code == 429
    assert throttled.json() == {
        "code": "Throttling.RateQuota",
        "message": "Requests rate limit exceeded, please try again later.",
        "request_id": throttled.json()["request_id"],
    }
    assert "retry-after" not in throttled.headers
    assert server.submit(key="sk-other").status_code == 200  # another account
    assert server.submit(model="wanx2.1-t2i-turbo").status_code == 200  # another model
    server.advance(1)
    assert server.submit().status_code == 200  # the window moved on


def test_queries_are_limited_to_20_per_second(server):
    task_id = submit_id(server)
    codes = [server.query(task_id).status_code for _ in range(21)]
    assert codes == [200] * 20 + [429]
    server.advance(1)
    assert server.query(task_id).status_code == 200


def test_accounts_from_config_share_tasks_and_limits(make_server):
    server = make_server(accounts=[{"id": "team", "keys": ["sk-a", "sk-b"],
                                    "limits": {"wanx-v1": {"submit_per_second": 3, "concurrency": 2}}}])
    ids = [submit_id(server, key=key) for key in ("sk-a", "sk-b", "sk-a")]
    assert server.submit(key="sk-b").status_code == 429  # 3 a second, shared by both keys
    assert status(server, ids[0], key="sk-b") == "PENDING"  # one account sees every key's tasks
    server.advance(1)
    assert [status(server, t, key="sk-a") for t in ids] == ["RUNNING", "RUNNING", "PENDING"]


def test_list_tasks_answers_the_captured_shape(server):
    first = submit_id(server, parameters={"n": 1})
    server.advance(60)
    second = submit_id(server, parameters={"n": 1})
    response = server.client.get("/api/v1/tasks", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["total", "data", "total_page", "page_no", "request_id", "page_size"]
    assert (body["total"], body["total_page"], body["page_no"], body["page_size"]) == (2, 1, 1, 10)
    newest, oldest = body["data"]
    assert (newest["task_id"], oldest["task_id"]) == (second, first)
    assert list(oldest) == ["api_key_id", "caller_parent_id", "caller_uid", "end_time", "gmt_create", "model_name",
                            "region", "request_id", "start_time", "status", "task_id", "user_api_unique_key"]
    assert oldest["status"] == "SUCCEEDED"
    assert oldest["gmt_create"] == 1709260684485
    assert oldest["user_api_unique_key"] == "apikey:v1:aigc:text2image:image-synthesis:wanx-v1"
    assert "end_time" not in newest and "start_time" not in newest  # still PENDING


def test_list_filters_and_pages(server):
    ids = []
    for n in range(5):
        ids.append(submit_id(server, parameters={"n": 1}))
        server.advance(60)
    submit_id(server, model="wanx2.1-t2i-turbo")
    page = server.client.get("/api/v1/tasks", headers=AUTH,
                             params={"model_name": "wanx-v1", "page_size": 2, "page_no": 2}).json()
    assert (page["total"], page["total_page"]) == (5, 3)
    assert [row["task_id"] for row in page["data"]] == [ids[2], ids[1]]
    by_status = server.client.get("/api/v1/tasks", headers=AUTH, params={"status": "PENDING"}).json()
    assert [row["model_name"] for row in by_status["data"]] == ["wanx2.1-t2i-turbo"]
    by_id = server.client.get("/api/v1/tasks", headers=AUTH, params={"task_id": ids[0]}).json()
    assert [row["task_id"] for row in by_id["data"]] == [ids[0]]


def test_list_time_window(server):
    task_id = submit_id(server)  # 2024-03-01 10:38:04 China time
    inside = {"start_time": "20240301100000", "end_time": "20240301103804"}
    outside = {"start_time": "20240301000000", "end_time": "20240301103803"}
    assert [r["task_id"] for r in server.client.get("/api/v1/tasks", headers=AUTH, params=inside).json()["data"]] == [task_id]
    assert server.client.get("/api/v1/tasks", headers=AUTH, params=outside).json()["total"] == 0
    server.advance(25 * 3600)
    assert server.client.get("/api/v1/tasks", headers=AUTH).json()["total"] == 0  # default: the last 24 h


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_time": "2024-03-01"}, "The start_time or end_time format is invalid, expected yyyyMMddHHmmss."),
        ({"start_time": "20240301000000", "end_time": "20240302000001"},
         "The time range between start_time and end_time must not exceed 24 hours."),
        ({"start_time": "20240302000000", "end_time": "20240301000000"},
         "The time range between start_time and end_time must not exceed 24 hours."),
        ({"page_no": "0"}, "page_no and page_size must be positive integers, page_size at most 100."),
        ({"page_size": "abc"}, "page_no and page_size must be positive integers, page_size at most 100."),
        ({"page_size": "101"}, "page_no and page_size must be positive integers, page_size at most 100."),
    ],
)
def test_list_refuses_bad_parameters(server, params, message):
    response = server.client.get("/api/v1/tasks", headers=AUTH, params=params)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["message"]) == ("InvalidParameter", message)
