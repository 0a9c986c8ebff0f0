"""facechain-facedetect, the synchronous model, over raw HTTP: the answer is the output itself.

Facts: help.aliyun.com/zh/model-studio/facechain-face-detection-api (synchronous, QPS 5, is_face[],
failed_reason) and platform.qianwenai.com's facechain-face-detect page (the answer's key order and
``usage: {}``). What would end a task FAILED is the call's own HTTP error (decision, see the README).
"""

from __future__ import annotations

import json
import re

import pytest

from image_host import ImageHost
from serving import LiveServer

PATH = "/api/v1/services/vision/facedetection/detect"
MODEL = "facechain-facedetect"
ASYNC_REFUSED = "current user api does not support asynchronous calls"
INVALID_URL = (
    "The request URL is invalid, please check the request URL is available and the request image format "
    "is one of the following types: JPEG, JPG, PNG, BMP, and WEBP."
)


@pytest.fixture
def key(request) -> str:
    """A fresh account per test, so the 5/s throttle of one test never reaches another."""
    return f"sk-sync-{request.node.name}"


def call(live: LiveServer, key: str, images, headers: dict | None = None, **body):
    payload = {"model": MODEL, "input": {"images": images}, **body}
    return live.client.post(PATH, json=payload, headers={"Authorization": f"Bearer {key}", **(headers or {})})


def error(response) -> tuple[int, str, str]:
    body = response.json()
    assert list(body) == ["code", "message", "request_id"]
    return response.status_code, body["code"], body["message"]


def test_the_answer_is_the_output_in_the_documented_shape(live, key):
    response = call(live, key, ["https://example.com/a.jpg", "https://example.com/b.png", "https://example.com/c.webp"],
                    parameters={})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["output", "usage", "request_id"]
    assert list(body["output"]) == ["is_face", "failed_reason"]
    assert body["output"] == {"is_face": [True, True, True], "failed_reason": ["", "", ""]}
    assert body["usage"] == {}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body["request_id"])
    assert response.headers["x-request-id"] == body["request_id"]  # on successes too (2026)
    assert response.headers["x-dashscope-timeout"] == "298"
    # compact JSON, as the gateway sends it
    assert response.content == json.dumps(body, separators=(",", ":")).encode()


def test_no_task_is_made(live, key):
    assert call(live, key, ["https://example.com/a.jpg"]).status_code == 200
    listing = live.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}).json()
    assert listing["total"] == 0


def test_the_async_header_is_the_403_of_a_sync_only_model(live, key):
    response = call(live, key, ["https://example.com/a.jpg"], headers={"X-DashScope-Async": "enable"})
    assert error(response) == (403, "AccessDenied", ASYNC_REFUSED)


@pytest.mark.parametrize(
    ("images", "code", "message"),
    [
        (None, "InvalidParameter", "Field required: input.images"),
        ("https://example.com/a.jpg", "InvalidParameter", "Input should be a valid array: input.images"),
        ([], "InvalidParameter", None),
        (["not a url"], "InvalidURL", None),
    ],
    ids=["missing", "not-a-list", "empty", "bad-url"],
)
def test_broken_rules_are_synchronous_400s(live, key, images, code, message):
    """What ends an async model's task FAILED is the call's own 400, with the same code and message."""
    input_ = {} if images is None else {"images": images}
    response = live.client.post(PATH, json={"model": MODEL, "input": input_}, headers={"Authorization": f"Bearer {key}"})
    status, got_code, got_message = error(response)
    assert (status, got_code) == (400, code)
    if message is not None:
        assert got_message == message


def test_a_body_without_input_is_the_gateway_400(live, key):
    response = live.client.post(PATH, json={"model": MODEL}, headers={"Authorization": f"Bearer {key}"})
    assert error(response) == (400, "BadRequest.EmptyInput", "Required input parameter missing from request.")


def test_five_calls_a_second_then_429(live, key):
    for _ in range(5):
        assert call(live, key, ["https://example.com/a.jpg"]).status_code == 200
    refused = call(live, key, ["https://example.com/a.jpg"])
    assert error(refused)[:2] == (429, "Throttling.RateQuota")
    live.advance(1.001)
    assert call(live, key, ["https://example.com/a.jpg"]).status_code == 200


def test_routes_are_checked_both_ways(live, key):
    auth = {"Authorization": f"Bearer {key}"}
    on_aigc = live.client.post("/api/v1/services/aigc/facedetection/detect",
                               json={"model": MODEL, "input": {"images": ["https://example.com/a.jpg"]}}, headers=auth)
    assert error(on_aigc)[:2] == (400, "InvalidParameter")
    assert error(on_aigc)[2].startswith("url error, please check url")
    wanx = live.client.post(PATH, json={"model": "wanx-v1", "input": {"prompt": "a cat"}},
                            headers={**auth, "X-DashScope-Async": "enable"})
    assert error(wanx)[:2] == (400, "InvalidParameter")
    unknown = live.client.post("/api/v1/services/vision/nothing/here", json={"model": MODEL}, headers=auth)
    assert error(unknown)[:2] == (404, "NotFound")


def test_a_partial_directive_fails_the_last_images(live, key):
    response = call(live, key, ["https://example.com/a.jpg", "https://example.com/b.jpg", "https://example.com/c.jpg"],
                    headers={"X-Mock-Directive": "partial=2"})
    assert response.status_code == 200
    assert response.json()["output"] == {"is_face": [True, False, False],
                                         "failed_reason": ["", "no face detected", "no face detected"]}


def test_a_fail_directive_is_the_calls_http_error(live, key):
    response = call(live, key, ["https://example.com/a.jpg"], headers={"X-Mock-Directive": "fail=DataInspectionFailed"})
    assert error(response) == (400, "DataInspectionFailed", "Input or output data may contain inappropriate content.")


def test_fault_rules_match_the_call_as_a_submit_and_the_journal_records_it(live, key):
    rule = {"match": {"model": MODEL, "route": "submit", "key": key}, "http": {"code": "Throttling"}, "count": 1}
    assert live.client.post("/__mock/faults", json=rule).status_code in (200, 201)
    faulted = call(live, key, ["https://example.com/a.jpg"])
    assert error(faulted)[:2] == (429, "Throttling")
    answered = call(live, key, ["https://example.com/a.jpg"])
    assert answered.status_code == 200
    rows = live.client.get("/__mock/requests", params={"model": MODEL}).json()["requests"]
    mine = [row for row in rows if row["request_id"] in (faulted.json()["request_id"], answered.json()["request_id"])]
    assert [(row["route"], row["status"], row["fault"], row["task_id"]) for row in mine] == [
        ("submit", 429, "http:Throttling", None), ("submit", 200, None, None)]


@pytest.fixture(scope="module")
def host():
    served = ImageHost()
    yield served
    served.close()


def test_fetched_images_pass_or_the_first_unusable_one_is_the_400(live, key, host):
    good = call(live, key, [host.url("/good.png"), host.url("/large.png")])
    assert good.status_code == 200 and good.json()["output"]["is_face"] == [True, True]
    small = call(live, key, [host.url("/good.png"), host.url("/small.png")])  # 100*100, under 256
    assert error(small)[:2] == (400, "InvalidFile.Resolution")
    assert error(small)[2] == ("The image resolution is invalid, please make sure that the aspect ratio is smaller "
                               "than 2.0, and largest length of image is smaller than 4096.")
    missing = call(live, key, [host.url("/nothing.png")])
    assert error(missing) == (400, "InvalidURL", INVALID_URL)
