"""The official SDK 2.0.2 on the synchronous image route and the video task API, in process, end to end.

``MultiModalConversation.call`` and ``ImageGeneration.call`` (no ``is_async``) and 2.0's
``Client().images.generate`` reach ``multimodal-generation/generation``; ``VideoSynthesis`` submits
to ``video-generation/video-synthesis`` (``image2video`` for kf2v models) and polls the task API.
The 1.20 line has ``MultiModalConversation`` only: ``test_sdk_lines`` drives it in its own venv.
"""

from __future__ import annotations

import io

import av
import dashscope
import pytest
from dashscope import MultiModalConversation, VideoSynthesis
from dashscope.aigc.image_generation import ImageGeneration

from serving import fetch

pytestmark = pytest.mark.e2e
KEY = "sk-media-sdk"
TEXT = [{"role": "user", "content": [{"text": "a tea shop sign that reads 'Open'"}]}]


@pytest.fixture
def api(make_server, monkeypatch):
    """A manual-clock emulator the SDK's module-level calls reach."""
    server = make_server()
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    return server


def test_multimodal_conversation_call_gets_the_image(api):
    response = MultiModalConversation.call(model="qwen-image-max", messages=TEXT, api_key=KEY, size="1328*1328")
    assert response.status_code == 200, response
    image = response.output.choices[0].message.content[0]["image"]
    assert image.startswith(api.url) and fetch(image).status_code == 200
    assert response.usage["width"] == 1328 and response.usage["image_count"] == 1
    assert response.request_id


def test_multimodal_conversation_gets_the_calls_error(api):
    response = MultiModalConversation.call(model="qwen-image-max", messages=TEXT, api_key=KEY, n=2)
    assert response.status_code == 400
    assert (response.code, response.message) == ("InvalidParameter", "num_images_per_prompt must be 1.")


def test_image_generation_call_on_the_sync_route_and_as_a_task(api):
    response = ImageGeneration.call(model="wan2.6-t2i", messages=TEXT, api_key=KEY, n=2, size="1280*1280")
    assert response.status_code == 200, response
    assert len(response.output.choices) == 2
    task = ImageGeneration.async_call(model="wan2.6-t2i", messages=TEXT, api_key=KEY, n=1)
    assert task.output.task_status == "PENDING"
    api.advance(600)
    done = ImageGeneration.fetch(task, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED" and len(done.output.choices) == 1


def test_client_images_generate_answers_at_once(api):
    client = dashscope.Client(api_key=KEY, base_url=api.api, max_retries=0)
    job = client.images.generate(model="wan2.6-t2i", prompt="a lighthouse", n=1, size="1280x1280")
    assert job.succeeded
    [url] = job.image_urls
    assert url.startswith(api.url) and fetch(url).headers["content-type"] == "image/png"


def test_video_synthesis_call_waits_for_the_video(make_server, monkeypatch):
    server = make_server(speed=float("inf"))  # tasks end as they are submitted: call() returns on its first poll
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    response = VideoSynthesis.call(model="wanx2.1-t2v-turbo", prompt="a kitten in the moonlight", size="832*480",
                                   api_key=KEY)
    assert response.output.task_status == "SUCCEEDED", response
    assert response.usage.video_count == 1 and response.usage.video_duration == 5
    video = fetch(response.output.video_url)
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.name) == (832, 480, "h264")


def test_video_synthesis_async_call_wait_fetch_and_cancel(api):
    first = VideoSynthesis.async_call(model="wanx2.1-i2v-turbo", img_url="https://example.com/cat.png",
                                      prompt="the cat runs", resolution="480P", duration=3, api_key=KEY)
    second = VideoSynthesis.async_call(model="wanx2.1-kf2v-plus", first_frame_url="https://example.com/a.png",
                                       last_frame_url="https://example.com/b.png", prompt="a turn", api_key=KEY)
    assert first.output.task_status == second.output.task_status == "PENDING"
    canceled = VideoSynthesis.cancel(second, api_key=KEY)
    assert canceled.status_code == 200
    api.advance(3600)
    done = VideoSynthesis.wait(first, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED"
    assert done.usage.video_ratio == "standard" and done.usage.video_duration == 3
    assert VideoSynthesis.fetch(second, api_key=KEY).output.task_status == "CANCELED"
    kf2v = [entry for entry in api.requests(route="submit") if entry["model"] == "wanx2.1-kf2v-plus"]
    assert kf2v[0]["path"] == "/api/v1/services/aigc/image2video/video-synthesis"


def test_video_synthesis_sends_wan27_media_as_typed_items(api):
    media = [{"type": "first_frame", "url": "https://example.com/first.png"},
             {"type": "last_frame", "url": "https://example.com/last.png"}]
    task = VideoSynthesis.async_call(model="wan2.7-i2v", prompt="the box opens", media=media, resolution="720P",
                                     duration=2, api_key=KEY)
    assert task.output.task_status == "PENDING", task
    api.advance(3600)
    done = VideoSynthesis.fetch(task, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED", done
    assert done.output.video_url.startswith(api.url)


def test_client_videos_generate_on_both_input_protocols(make_server):
    server = make_server(speed=float("inf"))
    client = dashscope.Client(api_key=KEY, base_url=server.api, max_retries=0)
    legacy = client.videos.generate(model="wanx2.1-t2v-turbo", prompt="a kitten", size="624*624", poll_interval=0.01)
    media = client.videos.generate(model="wan2.7-i2v", prompt="the box opens", image_url="https://example.com/a.png",
                                   resolution="720P", duration=2, poll_interval=0.01)
    assert legacy.succeeded and media.succeeded
    sent = [entry for entry in server.requests(route="submit")]
    assert [entry["status"] for entry in sent] == [200, 200]
    with av.open(io.BytesIO(fetch(media.video_url).content)) as container:
        assert container.streams.video[0].frames == 60  # 2 s at 30 fps
