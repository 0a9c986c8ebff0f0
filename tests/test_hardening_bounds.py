"""Attacks of issue 11 on what one request may make the emulator spend (images, pixels, memory, clock
range, JSON depth, a list's reach), made on the real server on loopback; after each, the server still
answers ``/__mock/health`` and a task submitted before the attack is intact.

Memory bounds are measured in ``load/bench_memory.py``, not here.
"""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image

from hardening import CATALOG, earlier, exchange, finished, intact, submit_head, submit_raw
from mockserver.catalog.schema import ModelEntry


# -- 1. unbounded n --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["flux-dev", "image-out-painting", "wanx-style-repaint-v1"])
def test_a_million_images_are_never_planned(server, model):
    before = earlier(server)
    example = CATALOG.models[model].example
    body = {**example, "parameters": {**example.get("parameters", {}), "n": 1_000_000}}
    answer = finished(server, submit_raw(server, model, body))
    assert answer["output"]["task_status"] == "SUCCEEDED"
    assert answer["usage"]["image_count"] == 1  # the model's pages name no count: one image, whatever n says
    limits = server.client.get("/__mock/account", params={"key": "sk-test", "model": model}).json()
    assert limits["models"][model]["used"] == 1
    intact(server, before)


def test_a_bounded_model_fails_a_million_images(server):
    before = earlier(server)
    answer = finished(server, server.submit(parameters={"n": 1_000_000}))
    assert (answer["output"]["task_status"], answer["output"]["code"]) == ("FAILED", "InvalidParameter")
    intact(server, before)


def test_the_schema_refuses_an_entry_that_leaves_the_count_or_size_unbounded():
    entry = CATALOG.models["wanx-v1"].model_dump()
    unbounded_n = {**entry, "parameters": {**entry["parameters"], "n": {"type": "integer", "min": 1}}}
    no_rule = {**entry, "parameters": {k: v for k, v in entry["parameters"].items() if k != "n"}}
    free_size = {**entry, "parameters": {**entry["parameters"], "size": {"type": "string"}}}
    huge_side = {**entry, "parameters": {**entry["parameters"], "size": {"type": "size", "side": [1, 99999]}}}
    for broken, words in ((unbounded_n, "max"), (no_rule, "images_field"), (free_size, "type `size`"),
                          (huge_side, "pixels")):
        with pytest.raises(ValueError, match=words):
            ModelEntry.model_validate(broken)
    ModelEntry.model_validate({**no_rule, "images_field": None})  # one image a task: bounded


# -- 2. unbounded size ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["20000*20000", "99999*99999", "-5*-5", "0*0"])
def test_a_size_the_model_takes_no_rule_for_is_never_rendered(server, size):
    before = earlier(server)
    model = "wanx-style-repaint-v1"  # no size parameter on its page
    example = CATALOG.models[model].example
    answer = finished(server, submit_raw(server, model, {**example, "parameters": {"size": size}}))
    assert answer["output"]["task_status"] == "SUCCEEDED"
    image = httpx.get(answer["output"]["results"][0]["url"], timeout=30)
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)  # the placeholder's default
    intact(server, before)


@pytest.mark.parametrize("size", ["99999*99999", "20000*20000", "0*0", "-5*-5"])
def test_a_size_out_of_the_models_range_fails_the_task(server, size):
    before = earlier(server)
    answer = finished(server, submit_raw(server, "wan2.6-t2i", {**CATALOG.models["wan2.6-t2i"].example,
                                                                 "parameters": {"size": size}}))
    assert answer["output"]["task_status"] == "FAILED"
    intact(server, before)

# -- 4. memory amplification ---------------------------------------------------------------------


def test_an_over_limit_content_length_is_refused_before_the_body_and_instead_of_100_continue(make_server):
    server = make_server(max_body_bytes=1024)
    before = earlier(server)
    answer = exchange(server, submit_head(30_000_000, Expect="100-continue"))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # no "100 Continue" first
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "BadRequest.TooLarge"
    for route in ("/__mock/faults", "/api/v1/fine-tunes"):  # every body reader has the cap
        refused = server.client.post(route, content=b"[" + b" " * 4096 + b"]",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
        assert refused.status_code == 413
    intact(server, before)


def test_a_task_keeps_what_it_needs_not_its_body(server):
    before = earlier(server)
    padding = "x" * 1_000_000
    response = server.submit(input={"prompt": "a cat", "ref_img": "http://example.com/" + padding, "junk": padding},
                             parameters={"n": 1, "junk": [padding]})
    task_id = response.json()["output"]["task_id"]
    (task,) = [task for task in server.client.get("/__mock/state").json()["tasks"] if task["task_id"] == task_id]
    assert task["input"]["prompt"] == "a cat" and "junk" not in task["parameters"]  # a list: gone
    assert len(json.dumps(task)) < 16_384  # of a body of three megabytes, strings cut
    intact(server, before)


def test_keys_that_only_read_leave_no_state_behind(server):
    before = earlier(server)
    state = server.client.get("/__mock/state").json()
    for number in range(50):
        server.query("no-such-task", key=f"sk-visitor-{number}")
    after = server.client.get("/__mock/state").json()
    assert after["accounts"].keys() == state["accounts"].keys()
    intact(server, before)


def test_a_keys_queue_is_forgotten_with_its_tasks(server):
    server.submit(key="sk-once", parameters={"n": 1})
    server.advance(hours=49)
    store = server.emulator.store
    assert len(list(store.lanes())) == 1
    store.purge(server.emulator.clock.now() - 48 * 3600)  # what every 512th submit does
    assert list(store.lanes()) == [] and store.count() == 0

# -- 6. the clock ----------------------------------------------------------------------------------


def test_the_clock_cannot_be_moved_out_of_range(server):
    before = earlier(server)
    for path, body in (("/__mock/clock/advance", {"seconds": 1e300}), ("/__mock/clock/advance", {"seconds": 3e11}),
                       ("/__mock/clock/set", {"time": 1e300}), ("/__mock/clock/resume", {"rate": 1e300})):
        refused = server.client.post(path, json=body)
        assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter", (path, refused.text)
    server.freeze()
    state = server.client.get("/__mock/state").json()
    state["clock"]["now"] = 1e300
    assert server.client.put("/__mock/state", json=state).status_code == 400
    assert server.client.post("/__mock/clock/advance", json={"seconds": 60}).status_code == 200
    intact(server, before)
    assert server.client.post("/__mock/reset", json={}).status_code == 200


# -- 7. deep JSON ----------------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_as_bad_json_everywhere(server):
    before = earlier(server)
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = b'{"model": "wanx-v1", "input": {"prompt": "a"}, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"}
    path = f"/api/v1{CATALOG.models['wanx-v1'].route.path}"
    for body in (deep, nested):
        answer = server.client.post(path, content=body, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter", answer.text
        assert answer.json()["message"] == "Required body invalid, please check the request body format."
    journaled = server.client.get("/__mock/requests", params={"route": "submit", "status": 400}).json()
    assert journaled["total"] == 2
    for method, route in (("POST", "/__mock/reset"), ("POST", "/__mock/faults"), ("PUT", "/__mock/state"),
                          ("PATCH", "/__mock/account?key=sk-test"), ("POST", "/api/v1/fine-tunes")):
        answer = server.client.request(method, route, content=nested, headers=headers)
        assert answer.status_code == 400, (route, answer.status_code, answer.text)
    intact(server, before)

# -- 9. the smaller ones: a list reads only its window ----------------------------------------------


def test_listing_reads_only_the_window(server):
    old = []
    for _ in range(3):
        old.append(server.submit(parameters={"n": 1}).json()["output"]["task_id"])
        server.advance(1)  # past the submit rate
    server.advance(hours=25)
    before = earlier(server)
    server.advance(1)
    new = server.submit(parameters={"n": 1}).json()["output"]["task_id"]
    listed = server.client.get("/api/v1/tasks", headers={"Authorization": "Bearer sk-test"}).json()
    assert [row["task_id"] for row in listed["data"]] == [new, before[0]] and listed["total"] == 2
    account = server.emulator.accounts.resolve("Bearer sk-test").id
    now = server.emulator.clock.now()
    window = list(server.emulator.store.account_tasks(account, now - 3600, now))
    assert [task.task_id for task in window] == [before[0], new] and not set(old) & {task.task_id for task in window}
    intact(server, before)
