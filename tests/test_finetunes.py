"""The fine-tunes API (facechain-finetune) over raw HTTP and the official SDK, driven by the manual clock."""

from __future__ import annotations

import re

import pytest

from sdk_envs import CURRENT, SdkDriver

KEY = {"Authorization": "Bearer sk-test"}
FILES = ["https://example.com/face1.jpg", "https://example.com/face2.jpg"]


def create(server, key: str = "sk-test", **body):
    payload = {"model": "facechain-finetune", "training_file_ids": FILES, **body}
    return server.client.post("/api/v1/fine-tunes", json=payload, headers={"Authorization": f"Bearer {key}"})


def get(server, job_id: str, key: str = "sk-test"):
    return server.client.get(f"/api/v1/fine-tunes/{job_id}", headers={"Authorization": f"Bearer {key}"})


def test_create_answers_the_documented_job_object_in_order(server):
    response = create(server, hyper_parameters={"steps": 100})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["request_id", "output"]
    output = body["output"]
    assert list(output) == [
        "job_id", "job_name", "status", "finetuned_output", "model", "base_model", "training_file_ids",
        "validation_file_ids", "hyper_parameters", "training_type", "create_time", "workspace_id",
        "user_identity", "modifier", "creator", "group", "model_name", "max_output_cnt",
    ]
    assert re.fullmatch(r"ft-\d{12}-[0-9a-f]{4}", output["job_id"])
    assert output["job_name"] == output["model_name"] == output["job_id"]
    assert output["status"] == "PENDING"
    assert output["finetuned_output"] == f"facechain-finetune-{output['job_id']}"
    assert output["training_file_ids"] == FILES and output["validation_file_ids"] == []
    assert output["hyper_parameters"] == {"steps": 100}
    assert (output["training_type"], output["group"], output["max_output_cnt"]) == ("sft", "facechain", 1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", output["create_time"])


def test_the_clock_moves_a_job_through_pending_running_succeeded(server):
    job_id = create(server).json()["output"]["job_id"]
    assert get(server, job_id).json()["output"]["status"] == "PENDING"
    server.advance(31)  # past the longest wait
    running = get(server, job_id).json()["output"]
    assert running["status"] == "RUNNING" and "end_time" not in running
    server.advance(1200)  # past the longest training
    done = get(server, job_id).json()["output"]
    assert done["status"] == "SUCCEEDED"
    assert done["finetuned_output"] == f"facechain-finetune-{job_id}"
    assert list(done)[list(done).index("creator") + 1] == "end_time"


def test_one_job_at_a_time_per_account_the_next_waits(server):
    first = create(server).json()["output"]["job_id"]
    server.advance(1.0)  # one second later: the submit limit is 2 a second
    second = create(server).json()["output"]["job_id"]
    server.advance(31)
    assert get(server, first).json()["output"]["status"] == "RUNNING"
    assert get(server, second).json()["output"]["status"] == "PENDING"
    assert server.client.post(f"/api/v1/fine-tunes/{first}/cancel", headers=KEY).json()["output"] == {"status": "CANCELED"}
    canceled = get(server, first).json()["output"]
    assert canceled["status"] == "CANCELED" and "finetuned_output" not in canceled
    assert get(server, second).json()["output"]["status"] == "RUNNING"  # it moved up
    again = server.client.post(f"/api/v1/fine-tunes/{first}/cancel", headers=KEY)
    assert (again.status_code, again.json()["code"]) == (400, "UnsupportedOperation")


def test_list_shows_the_accounts_jobs_newest_first(server):
    first = create(server).json()["output"]["job_id"]
    server.advance(1.0)
    second = create(server).json()["output"]["job_id"]
    create(server, key="sk-other")
    page = server.client.get("/api/v1/fine-tunes?page_size=1", headers=KEY).json()["output"]
    assert (page["page_no"], page["page_size"], page["total"]) == (1, 1, 2)
    assert [job["job_id"] for job in page["jobs"]] == [second]
    page = server.client.get("/api/v1/fine-tunes?page_no=2&page_size=1&model=facechain-finetune", headers=KEY).json()
    assert [job["job_id"] for job in page["output"]["jobs"]] == [first]


def test_an_unknown_or_anothers_job_is_not_found(server):
    job_id = create(server, key="sk-other").json()["output"]["job_id"]
    for answer in (get(server, "ft-202501010000-abcd"), get(server, job_id)):
        assert answer.status_code == 404
        assert answer.json()["code"] == "NotFound" and answer.json()["request_id"]


@pytest.mark.parametrize(
    "body, code, needle",
    [
        (b"{not json", "InvalidParameter", "body"),
        (b"[]", "InvalidParameter", "body"),
        (b'{"training_file_ids": ["a"]}', "BadRequest.EmptyModel", "model"),
        (b'{"model": "wanx-v1", "training_file_ids": ["a"]}', "InvalidParameter", "Model not exist"),
        (b'{"model": "facechain-finetune"}', "InvalidParameter", "training_file_ids"),
        (b'{"model": "facechain-finetune", "training_file_ids": "a"}', "InvalidParameter", "training_file_ids"),
        (b'{"model": "facechain-finetune", "training_file_ids": []}', "InvalidParameter", "1 to 10"),
        (b'{"model": "facechain-finetune", "training_file_ids": ["a","a","a","a","a","a","a","a","a","a","a"]}',
         "InvalidParameter", "1 to 10"),
        (b'{"model": "facechain-finetune", "training_file_ids": [3]}', "InvalidParameter", "training_file_ids"),
        (b'{"model": "facechain-finetune", "training_file_ids": ["a"], "hyper_parameters": [1]}',
         "InvalidParameter", "hyper_parameters"),
        (b'{"model": "facechain-finetune", "training_file_ids": ["a"], "validation_file_ids": "x"}',
         "InvalidParameter", "validation_file_ids"),
    ],
)
def test_a_broken_create_body_is_a_clear_400(server, body, code, needle):
    response = server.client.post("/api/v1/fine-tunes", content=body, headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == code and needle in response.json()["message"]


def test_bad_paging_is_a_400_and_no_key_a_401(server):
    assert server.client.get("/api/v1/fine-tunes?page_size=101", headers=KEY).status_code == 400
    assert server.client.get("/api/v1/fine-tunes?page_no=x", headers=KEY).status_code == 400
    assert server.client.get("/api/v1/fine-tunes/ft-x").status_code == 401


def test_the_official_sdk_creates_a_job_and_reads_it_until_succeeded(make_server):
    server = make_server()
    sdk = SdkDriver(CURRENT, server.api)
    try:
        created = sdk("finetune_call", model="facechain-finetune", training_file_ids=FILES[0], api_key="sk-test")
        assert created["status_code"] == 200, created
        job_id = created["output"]["job_id"]
        assert created["output"]["status"] == "PENDING"
        seen = []
        for _ in range(6):
            answer = sdk("finetune_get", job_id=job_id, api_key="sk-test")
            seen.append(answer["output"]["status"])
            if seen[-1] == "SUCCEEDED":
                break
            server.advance(300)
        assert seen[0] == "PENDING" and "RUNNING" in seen and seen[-1] == "SUCCEEDED"
        assert answer["output"]["finetuned_output"] == f"facechain-finetune-{job_id}"
        missing = sdk("finetune_get", job_id="ft-202501010000-0000", api_key="sk-test")
        assert (missing["status_code"], missing["code"]) == (404, "NotFound")
    finally:
        sdk.close()


def test_jobs_and_their_queue_survive_a_snapshot_and_restore(server):
    first = create(server).json()["output"]["job_id"]
    second = create(server).json()["output"]["job_id"]
    server.advance(60)  # the first trains, the second waits for the account's one slot
    before = {job_id: get(server, job_id).json()["output"] for job_id in (first, second)}
    assert (before[first]["status"], before[second]["status"]) == ("RUNNING", "PENDING")
    state = server.client.get("/__mock/state").json()
    assert server.client.post("/__mock/reset", json={}).status_code == 200
    assert get(server, first).status_code == 404
    restored = server.client.put("/__mock/state", json=state)
    assert restored.status_code == 200 and restored.json()["restored"]["jobs"] == 2, restored.text
    assert {job_id: get(server, job_id).json()["output"] for job_id in before} == before
    # Training takes 10-20 min: step a minute at a time until the first ends (at most 20 steps); the second
    # then runs in its slot, as planned before, and cannot have ended yet (it trains 10 min at least).
    for _ in range(20):
        server.advance(60)
        if get(server, first).json()["output"]["status"] != "RUNNING":
            break
    assert get(server, first).json()["output"]["status"] == "SUCCEEDED"
    assert get(server, second).json()["output"]["status"] == "RUNNING"


def test_a_snapshot_with_a_broken_job_book_is_refused_whole(server):
    create(server)
    state = server.client.get("/__mock/state").json()
    broken = {**state, "job_books": {account: {**book, "queue": ["ft-unknown"]} for account, book in state["job_books"].items()}}
    response = server.client.put("/__mock/state", json=broken)
    assert response.status_code == 400 and "job_books" in response.json()["message"]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("training_file_ids", ["x" * 2049], "at most 2048 characters"),
        ("validation_file_ids", ["v"] * 11, "at most 10"),
        ("hyper_parameters", {"notes": "x" * 5000}, "at most 4096 characters"),
    ],
)
def test_what_a_job_keeps_is_bounded(server, field, value, needle):
    body = {"model": "facechain-finetune", "training_file_ids": ["a"], field: value}
    response = server.client.post("/api/v1/fine-tunes", json=body, headers=KEY)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter" and field in response.json()["message"]
    assert needle in response.json()["message"]


def test_an_account_keeps_its_newest_jobs_the_oldest_finished_forgotten_first(make_server):
    server = make_server(fine_tune_jobs_kept=3)
    body = {"model": "facechain-finetune", "training_file_ids": ["a"]}

    def create() -> str:
        response = server.client.post("/api/v1/fine-tunes", json=body, headers=KEY)
        assert response.status_code == 200, response.text
        server.advance(1)  # the create throttle allows 2 a second
        return response.json()["output"]["job_id"]

    first = create()
    server.advance(hours=1)  # the first job has finished
    second, third = create(), create()
    fourth = create()  # four jobs: the finished first one goes, though it is not the oldest unfinished
    assert server.client.get(f"/api/v1/fine-tunes/{first}", headers=KEY).status_code == 404
    listed = server.client.get("/api/v1/fine-tunes", headers=KEY).json()["output"]
    assert listed["total"] == 3 and [job["job_id"] for job in listed["jobs"]] == [fourth, third, second]
    fifth = create()  # none finished: the oldest of all goes
    assert server.client.get(f"/api/v1/fine-tunes/{second}", headers=KEY).status_code == 404
    assert server.client.get(f"/api/v1/fine-tunes/{fifth}", headers=KEY).status_code == 200
