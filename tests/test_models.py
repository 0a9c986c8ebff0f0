"""Every model end to end over HTTP: its example goes through the lifecycle to its own output
shape, and every rule of its entry, broken, gets the faithful code and message on the faithful path.

Cases come from the catalog itself (``catalog_cases``), so a new entry is tested as soon as it exists.
"""

from __future__ import annotations

import itertools
import re

import pytest

from catalog_cases import Case, cases, valid_body
from mockserver.catalog import ModelEntry, default_catalog
from mockserver.catalog.validate import validate
from serving import LiveServer

CATALOG = default_catalog()
HOURS = 3600.0
_keys = itertools.count()
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
TIME_SECONDS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
SIGNED = re.compile(r"^http://127\.0\.0\.1:\d+/(dashscope-result-(bj|sh)/.+\.(png|jpg)|viapi-video/.+\.jpg)\?Expires=\d+&OSSAccessKeyId=\w+&Signature=.+$")


def _key() -> str:
    """A fresh account per test: its own lanes and limits, so tests never queue behind each other."""
    return f"sk-models-{next(_keys)}"


def _submit(live: LiveServer, model: str, body: dict, key: str):
    return live.submit(key=key, model=model, input=body["input"], parameters=body["parameters"])


ASYNC = [entry for entry in CATALOG.models.values() if entry.mode == "async" and entry.output.shape != "video"]  # videos: test_video
SYNC = [entry for entry in CATALOG.models.values() if entry.output.shape == "checks"]  # the calls: test_sync_generation


@pytest.mark.parametrize("entry", SYNC, ids=lambda e: e.name)
def test_valid_call_answers_its_checks_at_once(live: LiveServer, entry: ModelEntry):
    body = valid_body(entry)
    answered = _submit(live, entry.name, body, _key())
    assert answered.status_code == 200, answered.text
    answer = answered.json()
    checks = entry.output.checks
    assert list(answer) == (["output", "usage", "request_id"] if checks.usage is not None else ["output", "request_id"])
    assert list(answer["output"]) == list(checks.passed)
    if checks.of is None:  # one verdict for the call (emo-detect-v1)
        assert answer["output"] == checks.passed
        return
    for key, value in checks.passed.items():
        assert answer["output"][key] == [value] * len(body["input"][checks.of])


@pytest.mark.parametrize("entry", ASYNC, ids=lambda e: e.name)
def test_valid_request_runs_to_its_output_shape(live: LiveServer, entry: ModelEntry):
    key = _key()
    body = valid_body(entry)
    submitted = _submit(live, entry.name, body, key)
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["output"]["task_id"]
    checked = validate(entry, body["input"], body["parameters"], CATALOG.messages)  # defaults applied
    count = entry.image_count(checked.parameters, checked.input)

    pending = live.query(task_id, key).json()["output"]
    assert pending["task_status"] == "PENDING"
    assert pending["task_metrics"] == {"TOTAL": count, "SUCCEEDED": 0, "FAILED": 0}

    live.advance(entry.timing.pending[1] + 0.001)
    running = live.query(task_id, key).json()["output"]
    assert running["task_status"] == "RUNNING"
    assert TIME.match(running["scheduled_time"])

    live.advance(3 * HOURS)
    answer = live.query(task_id, key).json()
    output = answer["output"]
    assert output["task_status"] == "SUCCEEDED", output
    shape = entry.output
    if shape.usage_tokens:  # wan2.6: size and zeroed token counts besides image_count
        size = checked.parameters.get("size") or entry.default_size
        assert answer["usage"] == {"image_count": count, "input_tokens": 0, "output_tokens": 0, "size": size, "total_tokens": 0}
    else:
        assert answer["usage"] == {"image_count": count}
    assert (TIME_SECONDS if shape.end_time_seconds else TIME).match(output["end_time"])
    assert ("task_metrics" in output) == shape.task_metrics
    if shape.task_metrics:
        assert output["task_metrics"] == {"TOTAL": count, "SUCCEEDED": count, "FAILED": 0}
    urls: list[str] = []
    if shape.shape == "results":
        assert len(output["results"]) == count
        assert all(list(result)[-len(shape.url_keys):] == shape.url_keys for result in output["results"])
        urls = [result[key] for result in output["results"] for key in shape.url_keys]
        if shape.prompts:
            assert all(result["orig_prompt"] == body["input"]["prompt"] for result in output["results"])
    elif shape.shape == "fields":
        assert "results" not in output
        urls = [output[name] for name in shape.url_fields]
    elif shape.shape == "lists":
        assert "results" not in output and list(output)[-len(shape.lists) - 1 : -1] == list(shape.lists)
        assert all(len(output[name]) == count for name in shape.lists)
        urls = [url for name, kind in shape.lists.items() if kind == "url" for url in output[name]]
    else:  # one choice per image, each one assistant message with one image
        assert "results" not in output and output["finished"] is True
        assert len(output["choices"]) == count
        for choice in output["choices"]:
            assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
            assert [list(item) for item in choice["message"]["content"]] == [["image", "type"]]
        urls = [choice["message"]["content"][0]["image"] for choice in output["choices"]]
    assert urls and all(SIGNED.match(url) for url in urls)
    assert len(set(urls)) == len(urls)
    if shape.text_results is not None:
        assert len(output["text_results"]["urls"]) == count
        assert len(output["text_results"]["params"]) == count
    for name, value in shape.extra.items():
        assert output[name] == value


ALL_CASES = cases(CATALOG)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_each_broken_rule_gets_the_faithful_error(live: LiveServer, case: Case):
    _expect(live, case)


def _expect(live: LiveServer, case: Case) -> None:
    key = _key()
    submitted = _submit(live, case.model, case.body, key)
    if case.via == "sync":
        assert submitted.status_code == 400
        assert {k: submitted.json()[k] for k in ("code", "message")} == {"code": case.code, "message": case.message}
        return
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["output"]["task_id"]
    live.advance(3 * HOURS)
    output = live.query(task_id, key).json()["output"]
    assert output["task_status"] == "FAILED"
    assert (output["code"], output["message"]) == (case.code, case.message)
    assert "results" not in output


def test_cases_cover_every_model_and_every_kind():
    assert {case.model for case in ALL_CASES} == set(CATALOG.models)
    labels = {case.label.rpartition(":")[2] for case in ALL_CASES}
    assert {"missing", "type", "enum", "below", "above", "too_long", "size", "side", "area", "url", "too_many"} <= labels


# -- faithful texts written out, not derived: these are what the real service says ----------------


def _case(model: str, section: str, field: str, value, code: str, message: str, **extra) -> Case:
    body = valid_body(CATALOG.models[model])
    if value is None:
        body[section].pop(field)
    else:
        body[section][field] = value
    for dotted, v in extra.items():
        body[section][dotted] = v
    return Case(model, field, body, "task", code, message)


@pytest.mark.parametrize(
    "case",
    [
        _case("wanx-v1", "parameters", "size", "2048*2048", "InvalidParameter",
              "The size is not match the allowed size ['1024*1024', '720*1280', '1280*720']"),
        _case("wanx2.1-t2i-turbo", "input", "prompt", None, "InvalidParameter", "Field required: input.prompt"),
        _case("qwen-image", "parameters", "n", 2, "InvalidParameter", "num_images_per_prompt must be 1."),
        _case("wanx-style-repaint-v1", "input", "style_index", -1, "InvalidParameter", "Field required: input.style_ref_url"),
        _case("wanx2.1-imageedit", "input", "mask_image_url", None, "InvalidParameter", "Field required: input.mask_image_url"),
        _case("wan2.6-image", "input", "messages", [{"content": [{"text": "a cat"}]}], "InvalidParameter",
              "Field required: input.messages[0].role"),
        _case("wan2.6-image", "input", "messages", [{"role": "user", "content": [{"image": "nope"}]}], "InvalidURL",
              "The request URL is invalid, please check the request URL is available and the request image format is one of the following types: JPEG, JPG, PNG, BMP, and WEBP."),
    ],
    ids=lambda c: f"{c.model}:{c.label}",
)
def test_faithful_messages(live: LiveServer, case: Case):
    _expect(live, case)


def test_style_repaint_output_is_the_captured_shape(live: LiveServer):
    key = _key()
    task_id = _submit(live, "wanx-style-repaint-v1", valid_body(CATALOG.models["wanx-style-repaint-v1"]), key).json()["output"]["task_id"]
    live.advance(3 * HOURS)
    output = live.query(task_id, key).json()["output"]
    assert list(output) == [  # captured 2024-03: no task_metrics
        "task_id", "task_status", "submit_time", "scheduled_time", "end_time", "error_message", "start_time",
        "style_index", "error_code", "results",
    ]
    assert (output["style_index"], output["error_code"], output["error_message"]) == (0, 0, "Success")


def test_segmentation_has_two_urls_and_no_results(live: LiveServer):
    key = _key()
    task_id = _submit(live, "image-instance-segmentation", valid_body(CATALOG.models["image-instance-segmentation"]), key).json()["output"]["task_id"]
    live.advance(3 * HOURS)
    answer = live.query(task_id, key).json()
    assert list(answer["output"]) == [
        "task_id", "task_status", "submit_time", "scheduled_time", "end_time", "output_image_url", "output_vis_image_url",
    ]
    assert answer["usage"] == {"image_count": 1}


def test_background_generation_adds_text_results_only_with_a_title(live: LiveServer):
    entry = CATALOG.models["wanx-background-generation-v2"]
    key = _key()
    body = valid_body(entry)
    with_title = _submit(live, entry.name, body, key).json()["output"]["task_id"]
    del body["input"]["title"]
    without = _submit(live, entry.name, body, key).json()["output"]["task_id"]
    live.advance(3 * HOURS)
    assert "text_results" in live.query(with_title, key).json()["output"]
    assert "text_results" not in live.query(without, key).json()["output"]


def test_an_overlong_prompt_is_truncated_not_rejected(live: LiveServer):
    key = _key()
    task_id = _submit(live, "wanx2.1-t2i-turbo", {"input": {"prompt": "p" * 900}, "parameters": {"n": 1}}, key).json()["output"]["task_id"]
    live.advance(3 * HOURS)
    (result,) = live.query(task_id, key).json()["output"]["results"]
    assert result["orig_prompt"] == "p" * 800


def test_facechain_preset_style_needs_no_input_but_other_models_do(live: LiveServer):
    key = _key()
    preset = live.client.post(
        "/api/v1/services/aigc/album/gen_potrait",
        json={"model": "facechain-generation", "parameters": {"style": "f_idcard_female", "size": "768*1024", "n": 2},
              "resources": [{"resource_id": "women_model", "resource_type": "facelora"}]},
        headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"},
    )
    assert preset.status_code == 200
    live.advance(3 * HOURS)
    output = live.query(preset.json()["output"]["task_id"], key).json()["output"]
    assert output["task_status"] == "SUCCEEDED" and len(output["results"]) == 2
    other = live.client.post(
        "/api/v1/services/aigc/text2image/image-synthesis", json={"model": "wanx-v1", "parameters": {}},
        headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"},
    )
    assert (other.status_code, other.json()["code"]) == (400, "BadRequest.EmptyInput")
