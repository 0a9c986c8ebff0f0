"""The synchronous image route, ``POST /api/v1/services/aigc/multimodal-generation/generation``, over raw HTTP.

Facts: the qwen-image-max capture of 2026-06 (the answer's keys in order, ``task_metric``, the
``x-request-id`` and ``x-dashscope-call-gateway`` headers, 403 on the async header) and Alibaba's
qwen-image and qwen-image-edit API references. The call blocks for the model's duration on the
emulator's clock; on the manual clock it answers at once (decision, see the README).
"""

from __future__ import annotations

import io
import json
import re
import threading
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from catalog_cases import valid_body
from mockserver.domain.calls import answer_size
from mockserver.catalog import ModelEntry, default_catalog
from mockserver.catalog.validate import validate
from mockserver.results.names import task_of
from serving import LiveServer

PATH = "/api/v1/services/aigc/multimodal-generation/generation"
CATALOG = default_catalog()
CALLS = sorted((entry for entry in CATALOG.served() if entry.output.shape == "call"), key=lambda entry: entry.name)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def key(request) -> str:
    """A fresh account per test: its own rate windows."""
    return f"sk-call-{request.node.name}"


def call(live: LiveServer, key: str, model: str, text: str = "a cat", headers: dict | None = None, **body):
    payload = {"model": model, "input": {"messages": [{"role": "user", "content": [{"text": text}]}]}, **body}
    return live.client.post(PATH, json=payload, headers={"Authorization": f"Bearer {key}", **(headers or {})})


def call_json(live: LiveServer, key: str, payload: dict) -> dict:
    return live.client.post(PATH, json=payload, headers={"Authorization": f"Bearer {key}"}).json()


def image_of(choice: dict) -> str:
    return choice["message"]["content"][0]["image"]


def test_the_answer_is_the_captured_shape_with_its_headers(live, key):
    response = call(live, key, "qwen-image-max", parameters={"size": "1664*928", "seed": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["output", "usage", "request_id"]
    assert list(body["output"]) == ["choices", "task_metric"]
    [choice] = body["output"]["choices"]
    assert list(choice) == ["finish_reason", "message"] and choice["finish_reason"] == "stop"
    assert list(choice["message"]) == ["content", "role"] and choice["message"]["role"] == "assistant"
    assert list(choice["message"]["content"][0]) == ["image"]
    assert list(body["output"]["task_metric"].items()) == [("FAILED", 0), ("SUCCEEDED", 1), ("TOTAL", 1)]
    assert list(body["usage"].items()) == [("height", 928), ("image_count", 1), ("width", 1664)]
    assert UUID.fullmatch(body["request_id"])
    assert response.headers["x-request-id"] == body["request_id"]
    assert response.headers["x-dashscope-call-gateway"] == "true"
    assert response.headers["content-type"] == "application/json"
    assert response.content == json.dumps(body, separators=(",", ":")).encode()
    picture = httpx.get(image_of(choice))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(picture.content)).size == (1664, 928)


def test_the_async_header_is_refused(live, key):
    response = call(live, key, "qwen-image-max", headers={"X-DashScope-Async": "enable"})
    assert response.status_code == 403
    assert response.json()["code"] == "AccessDenied"
    assert response.json()["message"] == "current user api does not support asynchronous calls"


def test_a_call_leaves_no_task_to_query_or_list(live, key):
    answer = call(live, key, "z-image-turbo").json()
    task_id = task_of(urlsplit(image_of(answer["output"]["choices"][0])).path)  # the call's hidden task
    assert task_id is not None
    assert live.query(task_id, key).json()["output"]["task_status"] == "UNKNOWN"
    assert live.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}).json()["total"] == 0


@pytest.mark.parametrize("entry", CALLS, ids=lambda entry: f"{entry.name}:{entry.route.group}")
def test_every_model_on_the_route_answers_its_images(live, entry: ModelEntry):
    key = f"sk-call-model-{entry.name}"
    body = valid_body(entry)
    response = live.client.post(PATH, json={"model": entry.name, **body}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    answer = response.json()
    checked = validate(entry, body["input"], body["parameters"], CATALOG.messages)
    count = entry.image_count(checked.parameters, checked.input)
    size = answer_size(entry, checked.parameters)
    width, height = (int(side) for side in size.split("*"))
    assert len(answer["output"]["choices"]) == count
    if entry.output.usage_tokens:  # wan2.6's documented answer
        assert list(answer["output"]) == ["choices", "finished"] and answer["output"]["finished"] is True
        assert answer["output"]["choices"][0]["message"]["content"][0]["type"] == "image"
        assert answer["usage"] == {"image_count": count, "input_tokens": 0, "output_tokens": 0, "size": size,
                                   "total_tokens": 0}
    else:
        assert answer["output"]["task_metric"] == {"FAILED": 0, "SUCCEEDED": count, "TOTAL": count}
        assert answer["usage"] == {"height": height, "image_count": count, "width": width}
    picture = httpx.get(image_of(answer["output"]["choices"][-1]))
    assert Image.open(io.BytesIO(picture.content)).size == (width, height)


def test_a_broken_rule_is_the_calls_own_400(live, key):
    response = call(live, key, "qwen-image-max", parameters={"n": 2})
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    assert response.json()["message"] == "num_images_per_prompt must be 1."
    edit = {"model": "qwen-image-edit-plus", "parameters": {"n": 7}, "input": {"messages": [
        {"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": "make it blue"}]}]}}
    too_many = live.client.post(PATH, json=edit, headers={"Authorization": f"Bearer {key}"})
    assert too_many.status_code == 400 and too_many.json()["message"] == "Range of n should be [1, 6]"
    edit["input"]["messages"][0]["content"].pop(0)  # no image to edit
    assert call_json(live, key, edit)["message"] == "The number of items of content should be in [2, 4]"


def test_a_model_not_served_here_is_url_error(live, key):
    response = call(live, key, "wanx-v1")
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"
    assert "url error" in response.json()["message"]


def test_wan26_answers_on_both_routes(live, key):
    sync = call(live, key, "wan2.6-t2i", parameters={"n": 2, "size": "1280*1280"})
    assert sync.status_code == 200, sync.text
    assert len(sync.json()["output"]["choices"]) == 2
    assert sync.json()["usage"]["size"] == "1280*1280" and sync.json()["output"]["finished"] is True
    wan_image = {"model": "wan2.6-image", "parameters": {"n": 1, "size": "1K"}, "input": {"messages": [
        {"role": "user", "content": [{"text": "in the style of image 1"}, {"image": "https://example.com/a.png"}]}]}}
    url = call_json(live, key, wan_image)["output"]["choices"][0]["message"]["content"][0]["image"]
    assert Image.open(io.BytesIO(httpx.get(url).content)).size == (1280, 1280)
    submitted = live.submit(key=key, model="wan2.6-t2i", input={"messages": [{"role": "user", "content": [{"text": "a cat"}]}]},
                            parameters={"n": 1})
    assert submitted.json()["output"]["task_status"] == "PENDING"
    live.advance(600)
    done = live.query(submitted.json()["output"]["task_id"], key).json()["output"]
    assert done["task_status"] == "SUCCEEDED" and len(done["choices"]) == 1
    # qwen-image-plus too: input.prompt as a task, input.messages as a call
    assert call(live, key, "qwen-image-plus").status_code == 200


def test_faults_reach_the_call(live, key):
    failed = call(live, key, "qwen-image-max", headers={"X-Mock-Directive": "fail=DataInspectionFailed"})
    assert (failed.status_code, failed.json()["code"]) == (400, "DataInspectionFailed")
    partial = call(live, key, "qwen-image-2.0", parameters={"n": 3, "size": "1024*1024"},
                   headers={"X-Mock-Directive": "partial=1/3"})
    assert partial.status_code == 200, partial.text
    assert partial.json()["output"]["task_metric"] == {"FAILED": 1, "SUCCEEDED": 2, "TOTAL": 3}
    assert partial.json()["usage"]["image_count"] == 2 and len(partial.json()["output"]["choices"]) == 2


def test_on_a_running_clock_the_answer_waits_for_the_models_duration(make_server):
    """Scaled 200x: qwen-image-max's 14-18 s (the capture's 16.5 s) pass on the emulator's clock before it answers."""
    server = make_server(clock="scaled", clock_rate=200.0)
    response = call(server, "sk-call-scaled", "qwen-image-max")
    assert response.status_code == 200
    waited_ms = int(response.headers["resp-start-time"]) - int(response.headers["req-arrive-time"])
    assert waited_ms >= 14_000


def test_on_the_manual_clock_a_running_directive_blocks_until_the_clock_is_advanced(live, key):
    """The call's end is planned on the emulator's clock: with running=30s it answers once a test moves the clock."""
    from concurrent.futures import ThreadPoolExecutor

    account = live.emulator.authenticate(f"Bearer {key}").id
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call, live, key, "qwen-image-max", headers={"X-Mock-Directive": "running=30s"})
        tick = threading.Event()  # never set: its wait is a short pause between looks
        for _ in range(1000):  # until the call's hidden task exists (the request has arrived), at most 10 s
            if list(live.emulator.store.account_tasks(account)) or tick.wait(0.01):
                break
        assert list(live.emulator.store.account_tasks(account)), "the call never arrived"
        assert not pending.done()  # planned to end 30 s ahead on a standing clock: it waits
        live.advance(31)
        response = pending.result(timeout=30)
    assert response.status_code == 200 and response.json()["usage"]["image_count"] == 1
