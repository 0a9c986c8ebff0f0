"""Every fault effect through both channels (an admin rule and an in-band directive), seen through the SDK."""

from __future__ import annotations

import dashscope
import httpx
import pytest
import requests
from dashscope import ImageSynthesis

TIMEOUT_MESSAGE = "An internal timeout error has occured during execution, please try again later or contact service support."
OUTPUT_BLOCKED = "Output data may contain inappropriate content."
KEY = "sk-faults"


@pytest.fixture
def sdk(server, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    return server


def rule(server, **body):
    response = server.client.post("/__mock/faults", json=body)
    assert response.status_code == 200, response.text
    return response.json()["rules"][0]


def submit(prompt: str = "a cat", n: int = 4, **kwargs):
    response = ImageSynthesis.async_call(model="wanx-v1", prompt=prompt, n=n, api_key=KEY, **kwargs)
    assert response.status_code == 200, response
    return response.output.task_id


def fetch(task_id: str):
    return ImageSynthesis.fetch(task_id, api_key=KEY)


def finish(server, task_id: str):
    server.advance(4 * 3600)
    return fetch(task_id)


# -- the task ends FAILED ------------------------------------------------------


def test_fail_rule_fails_only_the_next_task(sdk):
    rule(sdk, fail={"code": "InternalError.Timeout"}, count=1)
    failed, fine = submit(), submit()
    answer = finish(sdk, failed)
    assert answer.output.task_status == "FAILED"
    assert (answer.output.code, answer.output.message) == ("InternalError.Timeout", TIMEOUT_MESSAGE)
    assert answer.output.task_metrics == {"TOTAL": 4, "SUCCEEDED": 0, "FAILED": 4}
    assert fetch(fine).output.task_status == "SUCCEEDED"


def test_fail_directive_is_stripped_from_the_prompt(sdk):
    response = ImageSynthesis.async_call(
        model="wanx2.1-t2i-turbo", prompt="a red fox [mock:fail=InternalError.Algo] at dawn", n=1, api_key=KEY
    )
    clean = ImageSynthesis.async_call(model="wanx2.1-t2i-turbo", prompt="a red fox at dawn [mock:running=5s]", n=1, api_key=KEY)
    answer = finish(sdk, response.output.task_id)
    assert answer.output.task_status == "FAILED"
    assert answer.output.code == "InternalError.Algo"
    results = finish(sdk, clean.output.task_id).output.results
    assert results[0]["orig_prompt"] == "a red fox at dawn"


def test_fail_with_a_message_variant_and_a_chosen_moment(sdk):
    rule(sdk, fail={"code": "DataInspectionFailed", "variant": "output"}, running=100, pending=0)
    task_id = submit()
    sdk.advance(99)
    assert fetch(task_id).output.task_status == "RUNNING"
    sdk.advance(2)
    answer = fetch(task_id)
    assert (answer.output.task_status, answer.output.message) == ("FAILED", OUTPUT_BLOCKED)


# -- partial failure -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["rule", "directive"])
def test_two_of_four_images_fail(sdk, channel):
    prompt = "a cat"
    if channel == "rule":
        rule(sdk, partial={"failed": 2, "codes": ["DataInspectionFailed"]}, count=1)
    else:
        prompt += " [mock:partial=2/4:DataInspectionFailed]"
    answer = finish(sdk, submit(prompt))
    assert answer.output.task_status == "SUCCEEDED"
    assert answer.output.task_metrics == {"TOTAL": 4, "SUCCEEDED": 2, "FAILED": 2}
    assert answer.usage.image_count == 2
    failed = [r for r in answer.output.results if r.get("code")]
    assert [(r["code"], r["message"]) for r in failed] == [("DataInspectionFailed", OUTPUT_BLOCKED)] * 2


def test_partial_of_every_image_fails_the_task(sdk):
    answer = finish(sdk, submit("x [mock:partial=2:InternalError.Algo]", n=2))
    assert (answer.output.task_status, answer.output.code) == ("FAILED", "InternalError.Algo")


def test_partial_directive_with_the_wrong_n_is_a_clear_400(sdk):
    response = ImageSynthesis.async_call(model="wanx-v1", prompt="x [mock:partial=2/3]", n=4, api_key=KEY)
    assert (response.status_code, response.code) == (400, "InvalidParameter")
    assert "partial=2/3" in response.message


# -- timing ------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["rule", "directive", "header"])
def test_pending_ten_minutes_then_running_thirty_seconds(sdk, channel):
    prompt = "a cat"
    headers = {}
    if channel == "rule":
        rule(sdk, pending=600, running=30, match={"key": KEY})
    elif channel == "directive":
        prompt += " [mock:pending=10m][mock:running=30s]"
    else:
        headers = {"X-Mock-Directive": "pending=10m; running=30s"}
    if headers:
        response = sdk.client.post("/api/v1/services/aigc/text2image/image-synthesis", json={
            "model": "wanx-v1", "input": {"prompt": prompt}},
            headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable", **headers})
        task_id = response.json()["output"]["task_id"]
    else:
        task_id = submit(prompt)
    sdk.advance(599)
    assert fetch(task_id).output.task_status == "PENDING"
    sdk.advance(2)
    assert fetch(task_id).output.task_status == "RUNNING"
    sdk.advance(30)
    assert fetch(task_id).output.task_status == "SUCCEEDED"


@pytest.mark.parametrize("channel", ["rule", "directive"])
def test_stuck_task_times_out_after_three_hours(sdk, channel):
    if channel == "rule":
        rule(sdk, stuck=True, pending=0)
        task_id = submit()
    else:
        task_id = submit("a cat [mock:stuck;pending=0s]")
    sdk.advance(3 * 3600 - 1)
    assert fetch(task_id).output.task_status == "RUNNING"
    sdk.advance(2)
    answer = fetch(task_id)
    assert (answer.output.task_status, answer.output.code, answer.output.message) == (
        "FAILED", "InternalError.Timeout", TIMEOUT_MESSAGE)


# -- synchronous HTTP errors ---------------------------------------------------------


def test_throttle_the_next_two_submits_with_retry_after(sdk):
    rule(sdk, match={"route": "submit"}, http={"code": "Throttling.RateQuota", "retry_after": 2}, count=2)
    for _ in range(2):
        response = ImageSynthesis.async_call(model="wanx-v1", prompt="a cat", api_key=KEY)
        assert (response.status_code, response.code) == (429, "Throttling.RateQuota")
        assert response.message == "Requests rate limit exceeded, please try again later."
    assert sdk.client.get("/__mock/faults").json()["rules"][0]["remaining"] == 0
    submit()
    assert sdk.client.get("/__mock/requests/count", params={"route": "submit", "status": 429}).json() == {"count": 2}


def test_retry_after_header_and_status_override(sdk):
    rule(sdk, match={"route": "query"}, http={"code": "RequestTimeOut", "status": 504, "retry_after": 3}, count=1)
    response = sdk.query("any-task", key=KEY)
    assert response.status_code == 504
    assert response.headers["retry-after"] == "3"
    assert response.json()["code"] == "RequestTimeOut"
    assert response.headers["server"] == "istio-envoy"  # the gateway still stamps a faulted answer
    assert sdk.query("any-task", key=KEY).status_code == 200


def test_503_on_the_next_three_polls(sdk):
    task_id = submit()
    rule(sdk, match={"route": "query"}, http={"code": "ModelUnavailable"}, count=3)
    codes = [fetch(task_id).status_code for _ in range(4)]
    assert codes == [503, 503, 503, 200]


def test_http_directives_in_prompt_and_header(sdk):
    response = ImageSynthesis.async_call(model="wanx-v1", prompt="a cat [mock:http=Throttling.RateQuota]", api_key=KEY)
    assert (response.status_code, response.code) == (429, "Throttling.RateQuota")
    task_id = submit()
    polled = sdk.client.get(f"/api/v1/tasks/{task_id}", headers={
        "Authorization": f"Bearer {KEY}", "X-Mock-Directive": "http=ModelUnavailable; retry-after=1"})
    assert (polled.status_code, polled.headers["retry-after"], polled.json()["code"]) == (503, "1", "ModelUnavailable")


def test_cancel_and_list_errors(sdk):
    task_id = submit()
    rule(sdk, match={"route": "cancel"}, http={"code": "InternalError"}, count=1)
    rule(sdk, match={"route": "list"}, http={"code": "Throttling"}, count=1)
    assert ImageSynthesis.cancel(task_id, api_key=KEY).status_code == 500
    assert ImageSynthesis.list(api_key=KEY).status_code == 429
    assert ImageSynthesis.cancel(task_id, api_key=KEY).status_code == 200


def test_bad_key_is_still_401_before_any_fault(sdk):
    rule(sdk, http={"code": "ModelUnavailable"})
    assert sdk.client.get("/api/v1/tasks/x").status_code == 401


# -- network faults ------------------------------------------------------------------------


def test_network_rules_seen_by_the_sdk(sdk):
    task_id = submit()
    rule(sdk, match={"route": "query"}, network={"kind": "reset"}, count=1)
    rule(sdk, match={"route": "query"}, network={"kind": "empty"}, count=1, nth=2)
    with pytest.raises(requests.exceptions.ConnectionError, match="reset"):
        fetch(task_id)
    with pytest.raises(requests.exceptions.ConnectionError, match="without response"):
        fetch(task_id)
    assert fetch(task_id).status_code == 200


def test_network_directives(sdk):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        ImageSynthesis.async_call(model="wanx-v1", prompt="a cat [mock:network=truncate]", api_key=KEY)
    with pytest.raises(httpx.ReadError):
        sdk.client.get("/api/v1/tasks/x", headers={"Authorization": f"Bearer {KEY}", "X-Mock-Directive": "network=reset"})
    with pytest.raises(httpx.RemoteProtocolError):
        sdk.client.get("/api/v1/tasks/x", headers={"Authorization": f"Bearer {KEY}", "X-Mock-Directive": "network=empty"})
    faults = [e["fault"] for e in sdk.client.get("/__mock/requests").json()["requests"]]
    assert faults == ["network:truncate", "network:reset", "network:empty"]
    # a truncated submit was processed: the task exists, as after a real lost answer
    assert sdk.client.get("/__mock/health").json()["tasks"] == 1


def test_stall_before_the_answer(sdk):
    rule(sdk, match={"route": "query"}, network={"kind": "stall", "seconds": 1}, count=1)
    with pytest.raises(httpx.ReadTimeout):
        sdk.client.get("/api/v1/tasks/x", headers={"Authorization": f"Bearer {KEY}"}, timeout=0.1)
    with pytest.raises(httpx.ReadTimeout):
        sdk.client.get("/api/v1/tasks/x", headers={"Authorization": f"Bearer {KEY}", "X-Mock-Directive": "stall=1s"},
                       timeout=0.1)


# -- forward-compatible fields ------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["rule", "directive"])
def test_extra_output_fields(sdk, channel):
    prompt = "a cat"
    if channel == "rule":
        rule(sdk, extra={"future_field": {"a": 1}, "rank": 2})
    else:
        prompt += " [mock:extra=future_field:{\"a\":1};extra=rank:2]"
    task_id = submit(prompt)
    assert fetch(task_id).output["future_field"] == {"a": 1}
    answer = finish(sdk, task_id)
    assert answer.output.task_status == "SUCCEEDED"
    assert (answer.output["future_field"], answer.output["rank"]) == ({"a": 1}, 2)
