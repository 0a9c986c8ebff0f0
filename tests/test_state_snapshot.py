"""State snapshot and restore: GET/PUT /__mock/state, the testing helpers and ``serve --state``."""

from __future__ import annotations

import copy
import io
import json
import signal
import subprocess
import sys

import httpx
import pytest
from PIL import Image

from mockserver.cli import main

KEY, OTHER = "sk-snap", "sk-snap-2"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def task(server, prompt: str = "a cat [mock:pending=0;running=100]", key: str = KEY, **body) -> str:
    response = server.submit(key=key, input={"prompt": prompt}, **body)
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def answer(server, task_id: str, key: str = KEY) -> bytes:
    """The query's bytes without the request id (the one part that differs per request)."""
    response = server.query(task_id, key=key)
    return response.content.replace(response.json()["request_id"].encode(), b"")


def answers(server, tasks: dict[str, str]) -> dict[str, bytes]:
    return {task_id: answer(server, task_id, key) for task_id, key in tasks.items()}


def scene(server) -> dict[str, str]:
    """Tasks in every state on two accounts, a queue, a used fault rule, run-time limits and usage."""
    server.client.patch("/__mock/account", params={"key": KEY},
                        json={"free_tier_only": True, "models": {"wanx-v1": {"submit_per_second": 10, "remaining": 50}}})
    server.client.post("/__mock/faults", json={"match": {"key": OTHER}, "partial": {"failed": 1}, "count": 2})
    done = task(server, "done [mock:pending=0;running=5]", parameters={"n": 2})
    partial = task(server, "partial", key=OTHER, parameters={"n": 2})
    server.advance(60)
    tasks = {done: KEY, partial: OTHER}
    queue = [task(server) for _ in range(3)]  # concurrency 1: one runs, two wait in order
    canceled = task(server)
    assert server.client.post(f"/api/v1/tasks/{canceled}/cancel", headers=HEADERS).status_code == 200
    tasks.update({t: KEY for t in [*queue, canceled]})
    return tasks


def test_snapshot_reset_restore_answers_byte_for_byte(server):
    tasks = scene(server)
    before = answers(server, tasks)
    listed = server.client.get("/api/v1/tasks", headers=HEADERS).json()["data"]
    usage = server.client.get("/__mock/account", params={"key": KEY, "model": "wanx-v1"}).json()
    rules = server.client.get("/__mock/faults").json()
    done = next(iter(tasks))
    url = json.loads(before[done])["output"]["results"][0]["url"]
    image = server.client.get(url)
    assert image.status_code == 200
    document = server.client.get("/__mock/state").json()
    assert document["version"] == 1

    assert server.client.post("/__mock/reset", json={}).status_code == 200
    server.advance(3600)
    assert json.loads(answer(server, done))["output"]["task_status"] == "UNKNOWN"
    assert server.client.get(url).status_code == 404

    restored = server.client.put("/__mock/state", json=document)
    assert restored.status_code == 200, restored.text
    assert restored.json()["restored"]["tasks"] == len(tasks)
    assert server.client.get("/__mock/state").json() == document  # before the queries below add rate hits
    assert answers(server, tasks) == before
    assert server.client.get("/api/v1/tasks", headers=HEADERS).json()["data"] == listed
    assert server.client.get("/__mock/account", params={"key": KEY, "model": "wanx-v1"}).json() == usage
    assert server.client.get("/__mock/faults").json() == rules
    again = server.client.get(url)
    assert (again.status_code, again.content) == (200, image.content)


def test_the_future_after_a_restore_is_the_future_before_it(make_server):
    server = make_server(seed=7)
    tasks = scene(server)
    queue = list(tasks)[2:5]
    document = server.client.get("/__mock/state").json()

    def play() -> tuple[list[dict[str, bytes]], str]:
        seen = []
        for _ in range(4):
            server.advance(60)
            seen.append(answers(server, tasks))
        fresh = task(server, "new")  # the seeded id generator goes on from where it was
        assert task(server, "x", key=OTHER)  # the fault rule's second firing
        return seen, fresh

    first = play()
    assert server.client.put("/__mock/state", json=document).status_code == 200
    second = play()
    assert first == second
    at_180 = [json.loads(first[0][1][t])["output"]["task_status"] for t in queue]
    assert at_180 == ["SUCCEEDED", "RUNNING", "PENDING"]  # one at a time, in submission order
    starts = [json.loads(first[0][-1][t])["output"]["scheduled_time"] for t in queue]
    assert starts == sorted(starts) and len(set(starts)) == 3
    assert server.client.get("/__mock/faults").json()["rules"][0]["fired"] == 2


def test_a_snapshot_moves_to_another_emulator(make_server):
    first = make_server(url_secret="one")
    tasks = scene(first)
    done = next(iter(tasks))
    url = httpx.URL(json.loads(answer(first, done))["output"]["results"][0]["url"])
    second = make_server(url_secret="two", clock="real")
    assert second.client.put("/__mock/state", json=first.client.get("/__mock/state").json()).status_code == 200
    assert second.client.get("/__mock/clock").json()["mode"] == "manual"
    for task_id, key in tasks.items():
        assert answer(second, task_id, key).replace(second.url.encode(), first.url.encode()) == answer(first, task_id, key)
    moved = second.client.get(url.copy_with(host="127.0.0.1", port=httpx.URL(second.url).port))
    assert moved.status_code == 200  # signed by the first emulator's secret, which came along


def _broken(document: dict, how: str) -> object:
    broken = copy.deepcopy(document)
    if how == "version":
        broken["version"] = 2
    elif how == "clock":
        del broken["clock"]
    elif how == "model":
        broken["tasks"][0]["model"] = "wanx-v9"
    elif how == "lane":
        broken["lanes"][0]["tasks"].append("not-a-task")
    elif how == "slots":
        broken["lanes"][0]["slots"].append(None)
    elif how == "upload":
        broken["uploads"] = {"dashscope-instant/x/y": {"data": "***", "expires_at": 1.0}}
    elif how == "ids":
        broken["ids"] = [1, 2, 3]
    elif how == "rule":
        broken["faults"]["rules"][0]["rule"]["partial"]["codes"] = ["NoSuchCode"]
    elif how == "account":
        broken["accounts"] = {"a": {"used": {"wanx-v9": 1}}}
    elif how == "time":
        broken["tasks"][0]["ended_at"] = "NaN"
    elif how == "list":
        return [broken]
    return broken


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("version", "unsupported snapshot version 2"), ("clock", "clock: Field required"),
        ("model", "unknown model 'wanx-v9'"), ("lane", "not-a-task"), ("slots", "2 slots for concurrency 1"),
        ("upload", "not base64"), ("ids", "ids:"), ("rule", "NoSuchCode"), ("account", "wanx-v9"),
        ("time", "not a finite number"), ("list", "JSON object"),
    ],
)
def test_a_bad_snapshot_is_a_400_and_changes_nothing(make_server, how, words):
    server = make_server(seed=3)
    tasks = scene(server)
    document = server.client.get("/__mock/state").json()
    server.advance(30)
    before = answers(server, tasks)
    state = server.client.get("/__mock/state").json()
    del state["ids"]  # every request draws a request id from the generator, this PUT too
    response = server.client.put("/__mock/state", json=_broken(document, how))
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert words in response.json()["message"], response.json()["message"]
    assert {k: v for k, v in server.client.get("/__mock/state").json().items() if k != "ids"} == state
    assert answers(server, tasks) == before


def test_a_body_that_is_not_json_is_a_400(server):
    response = server.client.put("/__mock/state", content=b"{not json")
    assert response.status_code == 400 and "snapshot" in response.json()["message"]


def test_uploads_survive_a_restore(server):
    grant = server.client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "wanx-sketch-to-image-lite"},
                              headers=HEADERS).json()["data"]
    form = {"OSSAccessKeyId": grant["oss_access_key_id"], "Signature": grant["signature"], "policy": grant["policy"],
            "key": f"{grant['upload_dir']}/a.png", "x-oss-object-acl": "private", "x-oss-forbid-overwrite": "true",
            "success_action_status": "200", "x-oss-content-type": "image/png"}
    sketch_png = io.BytesIO()
    Image.new("RGB", (512, 512), "white").save(sketch_png, "PNG")  # the worker checks it: a real image in bounds
    uploaded = httpx.post(grant["upload_host"], data=form, files={"file": ("a.png", sketch_png.getvalue(), "image/png")})
    assert uploaded.status_code == 200, uploaded.text
    document = server.client.get("/__mock/state").json()
    assert list(document["uploads"]) == [form["key"]]
    server.client.post("/__mock/reset", json={})
    assert server.client.put("/__mock/state", json=document).status_code == 200
    sketch = server.client.post(
        "/api/v1/services/aigc/image2image/image-synthesis",
        json={"model": "wanx-sketch-to-image-lite", "parameters": {"n": 1},
              "input": {"prompt": "a house", "sketch_image_url": f"oss://{form['key']}"}},
        headers={**HEADERS, "X-DashScope-Async": "enable", "X-DashScope-OssResourceResolve": "enable"},
    )
    server.advance(3600)
    output = server.query(sketch.json()["output"]["task_id"], key=KEY).json()["output"]
    assert output["task_status"] == "SUCCEEDED", output


def test_testing_helpers_snapshot_and_restore():
    from mockserver.testing import serve

    with serve(clock="manual") as mock:
        headers = {**HEADERS, "X-DashScope-Async": "enable"}
        submitted = mock.client.post("/api/v1/services/aigc/text2image/image-synthesis", headers=headers,
                                     json={"model": "wanx-v1", "input": {"prompt": "a cat"}})
        task_id = submitted.json()["output"]["task_id"]
        mock.advance(minutes=5)  # a manual clock runs tasks at realistic speed
        saved = mock.snapshot()
        mock.reset()
        assert mock.restore(saved)["restored"]["tasks"] == 1
        assert mock.client.get(f"/api/v1/tasks/{task_id}", headers=HEADERS).json()["output"]["task_status"] == "SUCCEEDED"


def test_serve_starts_from_a_state_file(server, tmp_path):
    task_id = task(server, "a cat [mock:pending=0;running=5]")
    server.advance(10)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(server.client.get("/__mock/state").json()))
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        process.stdout.readline()
        base = process.stdout.readline().strip().split("=", 1)[1]
        done = httpx.get(f"{base}/tasks/{task_id}", headers=HEADERS).json()["output"]
        assert done["task_status"] == "SUCCEEDED"
        assert httpx.get(done["results"][0]["url"]).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_serve_refuses_a_bad_state_file(tmp_path, capsys):
    path = tmp_path / "state.json"
    path.write_text('{"version": 9}')
    assert main(["serve", "--state", str(path)]) == 2
    assert "unsupported snapshot version 9" in capsys.readouterr().err
    assert main(["serve", "--state", str(tmp_path / "missing.json")]) == 2
