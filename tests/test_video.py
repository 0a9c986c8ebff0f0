"""The video models on the task API, over raw HTTP: each one's lifecycle, output shape and a decoded MP4.

Facts: Alibaba's text-to-video, image-to-video and first/last-frame references (cited in each
entry); the emulator's decisions (usage keys of wan2.2 and later, 16:9 clips for a tier) are
marked in the entries.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import av
import httpx
import pytest

from catalog_cases import valid_body
from mockserver.catalog import ModelEntry, default_catalog
from mockserver.catalog.validate import validate
from mockserver.results.names import task_of
from serving import LiveServer, fetch

CATALOG = default_catalog()
VIDEOS = sorted((entry for entry in CATALOG.models.values() if entry.output.shape == "video"), key=lambda e: e.name)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


def decode(body: bytes) -> tuple[int, int, int, float, str, int]:
    """(width, height, fps, seconds, codec, frames decoded) of an MP4."""
    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (stream.width, stream.height, int(stream.average_rate), container.duration / 1_000_000,
                stream.codec_context.name, frames)


@pytest.mark.parametrize("entry", VIDEOS, ids=lambda entry: entry.name)
def test_every_video_model_runs_to_its_output_and_a_playable_mp4(live: LiveServer, entry: ModelEntry):
    key = f"sk-video-{entry.name}"
    body = valid_body(entry)
    submitted = live.submit(key=key, model=entry.name, input=body["input"], parameters=body["parameters"])
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["output"]["task_id"]
    assert live.query(task_id, key).json()["output"]["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0}
    live.advance(entry.timing.pending[1] + 0.001)
    assert live.query(task_id, key).json()["output"]["task_status"] == "RUNNING"
    live.advance(entry.timing.running_base[1])
    answer = live.query(task_id, key).json()
    output = answer["output"]
    assert output["task_status"] == "SUCCEEDED", output
    assert list(output)[:5] == ["task_id", "task_status", "submit_time", "scheduled_time", "end_time"]
    assert TIME.match(output["end_time"])
    video = entry.output.video
    checked = validate(entry, body["input"], body["parameters"], CATALOG.messages)
    prompts = ["orig_prompt", "actual_prompt"] if checked.parameters.get("prompt_extend", True) else ["orig_prompt"]
    own = {"prompts": [*prompts, "video_url"], "url": ["video_url"], "results": ["results"]}
    assert list(output)[5:] == own[video.layout]
    url = output["results"]["video_url"] if video.layout == "results" else output["video_url"]
    size, seconds = video.size(checked.parameters, entry.parameters), video.seconds(checked.parameters, entry.parameters)
    width, height = (int(side) for side in size.split("*"))
    usage = answer["usage"]
    assert list(usage) == video.usage
    for name, value in usage.items():
        if name in ("video_duration", "duration", "output_video_duration"):
            assert value == seconds
        elif name == "video_ratio":
            assert value == (size if video.ratio == "size" else video.ratio)
        elif name == "video_count":
            assert value == 1
        elif name == "SR":
            assert value == min(width, height)
    download = fetch(url)
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    assert re.search(r"-1\.mp4\?Expires=", url) and task_of(urlsplit(url).path) == task_id
    assert decode(download.content) == (width, height, video.fps, seconds, "h264", seconds * video.fps)


def test_the_mp4_is_the_same_for_a_seed_and_serves_head_and_range(live: LiveServer):
    key = "sk-video-seed"
    bodies = []
    for _ in range(2):
        submitted = live.submit(key=key, model="wanx2.1-t2v-turbo", input={"prompt": "a kitten"},
                                parameters={"size": "624*624", "seed": 42})
        live.advance(600)
        bodies.append(fetch(live.query(submitted.json()["output"]["task_id"], key).json()["output"]["video_url"]))
    first, second = bodies
    assert first.content == second.content
    url = str(first.request.url)
    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(first.content))
    part = fetch(url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == first.content[:8]
    assert part.content[4:8] == b"ftyp"  # an ISO media file


def test_the_video_url_expires_like_an_image(live: LiveServer):
    key = "sk-video-expiry"
    submitted = live.submit(key=key, model="wanx2.1-t2v-turbo", input={"prompt": "a kitten"}, parameters={"size": "832*480"})
    live.advance(600)
    url = live.query(submitted.json()["output"]["task_id"], key).json()["output"]["video_url"]
    live.advance(25 * 3600)
    expired = fetch(url)
    assert expired.status_code == 403 and b"Request has expired" in expired.content


@pytest.mark.parametrize(("model", "input_", "parameters", "message"), [
    ("wanx2.1-t2v-turbo", {"prompt": "a cat"}, {"size": "1920*1080"}, "The size is not match the allowed size"),
    ("wan2.6-t2v", {"prompt": "a cat"}, {"size": "1280*720", "duration": 16}, "Range of duration should be [2, 15]"),
    ("wanx2.1-i2v-turbo", {"prompt": "a cat"}, {}, "Field required: input.img_url"),
    ("wanx2.1-i2v-plus", {"img_url": "https://example.com/a.png"}, {"resolution": "1080P"}, "The resolution is invalid."),
    ("wanx2.1-kf2v-plus", {"prompt": "a cat"}, {}, "Field required: input.first_frame_url"),
])
def test_a_broken_rule_ends_the_task_failed(live: LiveServer, model, input_, parameters, message):
    key = f"sk-video-rule-{model}"
    submitted = live.submit(key=key, model=model, input=input_, parameters=parameters)
    assert submitted.status_code == 200, submitted.text
    live.advance(3600)
    output = live.query(submitted.json()["output"]["task_id"], key).json()["output"]
    assert (output["task_status"], output["code"]) == ("FAILED", "InvalidParameter")
    assert output["message"].startswith(message)


def test_first_last_frame_is_on_image2video_and_nowhere_else(live: LiveServer):
    body = {"model": "wanx2.1-kf2v-plus", "input": {"first_frame_url": "https://example.com/a.png"}}
    headers = {"Authorization": "Bearer sk-video-route", "X-DashScope-Async": "enable"}
    wrong = live.client.post("/api/v1/services/aigc/video-generation/video-synthesis", json=body, headers=headers)
    assert wrong.status_code == 400 and "url error" in wrong.json()["message"]
    right = live.client.post("/api/v1/services/aigc/image2video/video-synthesis", json=body, headers=headers)
    assert right.status_code == 200, right.text


@pytest.mark.parametrize(("model", "limit"), [("wanx2.1-t2v-turbo", 2), ("videoretalk", 1)])
def test_the_published_rate_and_concurrency(live: LiveServer, model: str, limit: int):
    """wan2.1 t2v: 2 submissions a second and 2 at once; videoretalk: 1 and 1."""
    key = f"sk-video-limits-{model}"
    body = valid_body(CATALOG.models[model])

    def submit():
        return live.submit(key=key, model=model, input=body["input"], parameters=body["parameters"])

    ids = [submit().json()["output"]["task_id"] for _ in range(limit)]
    over = submit()
    assert over.status_code == 429 and over.json()["code"] == "Throttling.RateQuota"
    live.advance(1.0)
    queued = submit().json()["output"]["task_id"]
    live.advance(20)
    statuses = [live.query(task_id, key).json()["output"]["task_status"] for task_id in [*ids, queued]]
    assert statuses == ["RUNNING"] * limit + ["PENDING"]


def test_wan27_takes_resolution_and_ratio_and_a_typed_media_list(live: LiveServer):
    key = "sk-video-wan27"
    portrait = live.submit(key=key, model="wan2.7-t2v", input={"prompt": "a lighthouse"},
                           parameters={"resolution": "720P", "ratio": "9:16", "duration": 2})
    bad_type = live.submit(key=key, model="wan2.7-i2v", input={"media": [{"type": "poster", "url": "https://example.com/a.png"}]})
    no_media = live.submit(key=key, model="wan2.7-i2v", input={"prompt": "a lighthouse"})
    live.advance(3600)
    done = live.query(portrait.json()["output"]["task_id"], key).json()
    assert done["usage"] == {"video_duration": 2, "video_count": 1, "SR": 720}
    assert decode(fetch(done["output"]["video_url"]).content)[:2] == (720, 1280)
    failed = live.query(bad_type.json()["output"]["task_id"], key).json()["output"]
    assert (failed["task_status"], failed["message"]) == ("FAILED", "The type is invalid.")
    missing = live.query(no_media.json()["output"]["task_id"], key).json()["output"]
    assert (missing["task_status"], missing["message"]) == ("FAILED", "Field required: input.media")


def test_emo_detect_answers_at_once_and_its_boxes_feed_emo(live: LiveServer):
    key, path = "sk-video-emo", "/api/v1/services/aigc/image2video/face-detect"
    body = {"model": "emo-detect-v1", "input": {"image_url": "https://example.com/portrait.png"}, "parameters": {"ratio": "1:1"}}
    auth = {"Authorization": f"Bearer {key}"}
    detected = live.client.post(path, json=body, headers=auth)
    assert detected.status_code == 200, detected.text
    answer = detected.json()
    assert list(answer) == ["output", "usage", "request_id"] and answer["usage"] == {"image_count": 1}
    assert list(answer["output"]) == ["check_pass", "face_bbox", "ext_bbox", "humanoid"]
    assert answer["output"]["check_pass"] is True
    refused = live.client.post(path, json=body, headers={**auth, "X-DashScope-Async": "enable"})
    assert refused.status_code == 403 and refused.json()["message"] == "current user api does not support asynchronous calls"
    failed = live.client.post(path, json=body, headers={**auth, "X-Mock-Directive": "partial=1"}).json()["output"]
    assert failed["check_pass"] is False and "face_bbox" not in failed
    emo = live.submit(key=key, model="emo-v1", input={
        "image_url": "https://example.com/portrait.png", "audio_url": "https://example.com/speech.mp3",
        "face_bbox": answer["output"]["face_bbox"], "ext_bbox": answer["output"]["ext_bbox"]})
    live.advance(3600)
    done = live.query(emo.json()["output"]["task_id"], key).json()
    assert done["output"]["task_status"] == "SUCCEEDED" and done["usage"] == {"video_duration": 5, "video_ratio": "1:1"}


def test_a_size_or_duration_no_rule_bounds_does_not_shape_the_clip(live: LiveServer):
    """Unknown parameters pass unchecked (as the real gateway lets them); they must not make a huge clip."""
    key = "sk-video-unruled"
    submitted = live.submit(key=key, model="wanx2.1-i2v-turbo", input={"img_url": "https://example.com/a.png"},
                            parameters={"resolution": "480P", "size": "99999*99999", "ratio": "1:9", "duration": 3})
    retalk = live.submit(key=key, model="videoretalk", input={"video_url": "https://e.com/v.mp4", "audio_url": "https://e.com/a.wav"},
                         parameters={"size": "99999*99999", "duration": 600})
    live.advance(3600)
    done = live.query(submitted.json()["output"]["task_id"], key).json()["output"]
    assert decode(fetch(done["video_url"]).content)[:4] == (832, 480, 30, 3)
    other = live.query(retalk.json()["output"]["task_id"], key).json()
    assert other["usage"] == {"video_duration": 5}
    assert decode(fetch(other["output"]["video_url"]).content)[:4] == (1280, 720, 25, 5)
