"""The real service's recorded answers (issue 15), pinned over raw HTTP: key order, object names, bytes.

Each test names the capture it reproduces; the facts are recorded with their
sources in the catalog entries and docs/captures.md.
"""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from mockserver.results.names import BUCKETS, ObjectName, is_task_id, object_name, parse, task_of

START = 1709260684.485  # 2024-03-01 10:38:04.485 in China time
KEY = "sk-fidelity"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SECONDS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
MASK_KEYS = ["color", "top", "left", "gradient", "width", "type", "idx", "opacity", "radius", "height"]
TEXT_KEYS = ["font_weight", "font_size", "type", "content", "font_under_line", "line_height", "font_italic", "top",
             "sub_type", "font_color", "left", "text_stroke", "width", "text_shadow", "font_family", "idx", "alignment",
             "opacity", "font_line_through", "direction", "height"]


@pytest.fixture
def server(make_server):
    return make_server(clock_start=START, seed=15)


def finished(server, model: str, input_: dict, parameters: dict | None = None) -> tuple[str, dict]:
    response = server.submit(key=KEY, model=model, input=input_, parameters=parameters or {})
    assert response.status_code == 200, response.text
    task_id = response.json()["output"]["task_id"]
    server.advance(3600)
    body = server.query(task_id, key=KEY).json()
    assert body["output"]["task_status"] == "SUCCEEDED", body
    return task_id, body["output"]


def download(url: str) -> httpx.Response:
    response = httpx.get(url)
    assert response.status_code == 200, url
    return response


def test_background_generation_with_a_title_is_the_2024_03_capture(server):
    task_id, output = finished(
        server, "wanx-background-generation-v2",
        {"base_image_url": "https://example.com/product.png", "ref_prompt": "on moss", "title": "Spring sale",
         "sub_title": "all week"},
        {"n": 2},
    )
    assert list(output) == ["task_id", "task_status", "submit_time", "scheduled_time", "end_time", "text_results",
                            "results", "task_metrics"]
    text = output["text_results"]
    assert list(text) == ["urls", "params"]
    assert [list(link) for link in text["urls"]] == [["url"], ["url"]]  # objects, not bare strings
    width = height = 1024  # the results' size (the placeholder's default)
    for sample_idx, params in enumerate(text["params"]):
        assert list(params) == ["sample_idx", "layers"] and params["sample_idx"] == sample_idx
        layers = params["layers"]
        assert [layer["type"] for layer in layers] == ["text_mask", "text", "text_mask", "text"]
        assert [layer["idx"] for layer in layers] == [0, 1, 2, 3]
        for mask, label in zip(layers[::2], layers[1::2]):
            assert list(mask) == MASK_KEYS
            assert list(mask["gradient"]) == ["type", "color_stops", "gradient_units", "coords"]
            assert mask["gradient"]["type"] == "linear" and mask["gradient"]["gradient_units"] == "pixels"
            assert [list(stop) for stop in mask["gradient"]["color_stops"]] == [["offset", "color"]] * 2
            assert list(mask["gradient"]["coords"]) == ["y1", "x1", "y2", "x2"]
            assert list(label) == TEXT_KEYS
            for box in (mask, label):  # every box lies inside the image
                assert 0 <= box["left"] and box["left"] + box["width"] <= width
                assert 0 <= box["top"] and box["top"] + box["height"] <= height
        assert [(layer["sub_type"], layer["content"]) for layer in layers[1::2]] == [("Title", "Spring sale"),
                                                                                    ("SubTitle", "all week")]
    named = re.compile(rf"^/dashscope-result-bj/[0-9a-f]{{8}}/20240301/\d{{6}}_(\d)_({UUID})\.png$")
    links = [result["url"] for result in output["results"]] + [link["url"] for link in text["urls"]]
    matches = [named.match(urlsplit(link).path) for link in links]
    assert all(matches), links
    assert [int(match[1]) for match in matches] == [0, 1, 2, 3]
    for link in links:
        assert download(link).content.startswith(b"\x89PNG")
    downloads = [e for e in server.client.get(f"/__mock/tasks/{task_id}/timeline").json()["timeline"]
                 if e["event"] == "download"]
    assert len(downloads) == 4  # each name led back to its task


def test_a_title_without_sub_title_has_one_mask_and_one_text(server):
    _, output = finished(server, "wanx-background-generation-v2",
                         {"base_image_url": "https://example.com/p.png", "title": "Only"}, {"n": 1})
    layers = output["text_results"]["params"][0]["layers"]
    assert [(layer["type"], layer.get("sub_type")) for layer in layers] == [("text_mask", None), ("text", "Title")]


def test_style_repaint_query_is_the_2024_03_capture(server):
    task_id, output = finished(server, "wanx-style-repaint-v1",
                               {"image_url": "https://example.com/portrait.png", "style_index": 3})
    assert list(output) == ["task_id", "task_status", "submit_time", "scheduled_time", "end_time", "error_message",
                            "start_time", "style_index", "error_code", "results"]
    assert (output["error_message"], output["error_code"], output["style_index"]) == ("Success", 0, 3)
    assert SECONDS.match(output["end_time"]) and SECONDS.match(output["start_time"])
    assert MILLIS.match(output["submit_time"]) and MILLIS.match(output["scheduled_time"])
    assert output["start_time"] == output["scheduled_time"][:19]
    [result] = output["results"]
    path = urlsplit(result["url"]).path
    match = re.match(rf"^/viapi-video/2024-03-01/({UUID})/(\d{{20}})_style3_[a-z0-9]{{10}}\.jpg$", path)
    assert match is not None, path
    assert match[2].startswith(output["end_time"].replace("-", "").replace(" ", "").replace(":", ""))
    response = download(result["url"])
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8\xff")
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == "JPEG"
    part = httpx.get(result["url"], headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == response.content[:10]
    events = server.client.get(f"/__mock/tasks/{task_id}/timeline").json()["timeline"]
    assert [e["status"] for e in events if e["event"] == "download"] == [200, 206]


def test_repaint_object_in_another_folder_or_bucket_is_not_found(server):
    _, output = finished(server, "wanx-style-repaint-v1", {"image_url": "https://example.com/p.png", "style_index": 0})
    key = urlsplit(output["results"][0]["url"]).path.split("/", 2)[2]
    signer = server.emulator.signer
    for name in (ObjectName("viapi-video", key.replace("2024-03-01", "2024-03-02")),
                 ObjectName("viapi-video", key.replace("_style0_", "_style1_")),
                 ObjectName("dashscope-result-bj", key)):
        response = httpx.get(signer.url(server.url, name, 4_000_000_000))
        assert response.status_code == 404 and "<Code>NoSuchKey</Code>" in response.text


def test_wanx_v1_images_are_objects_of_their_own_in_both_buckets(server):
    buckets = set()
    for _ in range(3):
        task_id, output = finished(server, "wanx-v1", {"prompt": "a cat"}, {"n": 4})
        paths = [urlsplit(result["url"]).path for result in output["results"]]
        named = [re.match(rf"^/(dashscope-result-(?:bj|sh))/[0-9a-f]{{2}}/[0-9a-f]{{2}}/20240301/[0-9a-f]{{8}}/({UUID})-1\.png$", p)
                 for p in paths]
        assert all(named), paths
        uuids = [match[2] for match in named]
        assert len(set(uuids)) == 4 and task_id not in uuids
        buckets |= {match[1] for match in named}
        for result in output["results"]:
            assert download(result["url"]).content.startswith(b"\x89PNG")
    assert buckets == {"dashscope-result-bj", "dashscope-result-sh"}  # images of one account come from both


def test_names_invert_to_their_task_and_image():
    for _ in range(200):
        task_id = str(uuid.uuid4())
        for scheme in ("image", "timed", "repaint"):
            for index in range(8):
                name = object_name(scheme, task_id, "acct", START, index, 2)
                assert name.bucket in BUCKETS
                named = parse(name.bucket, name.key)
                assert named is not None and named.task_id == task_id
                assert named.index == (None if scheme == "repaint" else index)
                assert task_of(name.path) == task_id
    assert task_of("/dashscope-result-bj/1d/d4/20240301/8d820c8d/not-a-uuid-1.png") is None
    assert task_of("/elsewhere/a.png") is None
    assert is_task_id(str(uuid.uuid4())) and not is_task_id("task-1") and not is_task_id(str(uuid.uuid4()).upper())


def test_qwen_mt_image_with_every_ext_field_is_accepted_and_translates(server):
    """Captured 2026-06: this body answers 200 PENDING (it was 400 "Model not exist."); the output is documented."""
    body = {"model": "qwen-mt-image", "input": {
        "image_url": "https://example.com/poster.png", "source_lang": "zh", "target_lang": "en",
        "ext": {"domainHint": "e-commerce posters", "sensitives": ["全场9折", "七天无理由退换"],
                "terminologies": [{"src": "应用程序接口", "tgt": "API"}, {"src": "机器学习", "tgt": "ML"}],
                "config": {"imageSegment": True}}}}
    response = server.client.post("/api/v1/services/aigc/image2image/image-synthesis", json=body,
                                  headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"})
    assert response.status_code == 200, response.text
    submitted = response.json()
    assert list(submitted) == ["request_id", "output"]
    assert list(submitted["output"]) == ["task_id", "task_status"] and submitted["output"]["task_status"] == "PENDING"
    task_id = submitted["output"]["task_id"]
    server.advance(3600)
    answer = server.query(task_id, key=KEY).json()
    assert list(answer["output"]) == ["task_id", "task_status", "submit_time", "scheduled_time", "end_time", "image_url"]
    assert answer["usage"] == {"image_count": 1}
    url = answer["output"]["image_url"]
    assert re.match(rf"^/dashscope-result-(bj|sh)/[0-9a-f]{{2}}/[0-9a-f]{{2}}/20240301/[0-9a-f]{{8}}/{UUID}-1\.jpg$",
                    urlsplit(url).path)
    image = download(url)
    assert image.headers["content-type"] == "image/jpeg" and image.content.startswith(b"\xff\xd8\xff")


def test_qwen_mt_image_needs_its_languages_and_bounds_its_sensitive_words(server):
    base = {"image_url": "https://example.com/p.png", "source_lang": "zh", "target_lang": "en"}
    missing = server.submit(key=KEY, model="qwen-mt-image", input={k: v for k, v in base.items() if k != "target_lang"})
    throttled = server.submit(key=KEY, model="qwen-mt-image", input=base)
    assert throttled.status_code == 429  # one submit a second (documented)
    server.advance(1)
    too_many = server.submit(key=KEY, model="qwen-mt-image", input={**base, "ext": {"sensitives": ["w"] * 51}})
    server.advance(3600)
    for response in (missing, too_many):  # the worker checks fields: the task ends FAILED (the catalog's default)
        output = server.query(response.json()["output"]["task_id"], key=KEY).json()["output"]
        assert output["task_status"] == "FAILED" and output["code"] == "InvalidParameter", output
