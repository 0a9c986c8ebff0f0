"""The official SDK (2.0.2) against catalog models it has a call for: text2image, image2image, and facedetect
through its generic synchronous call."""

from __future__ import annotations

import dashscope
import pytest
from dashscope import ImageSynthesis

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk(server, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    return server


def test_sdk_text2image_qwen_image(sdk):
    submitted = ImageSynthesis.async_call(model="qwen-image", prompt="a shop sign", api_key="sk-sdk", size="1328*1328", n=1)
    assert submitted.status_code == 200, submitted
    sdk.advance(3600)
    done = ImageSynthesis.fetch(submitted, api_key="sk-sdk")
    assert done.output.task_status == "SUCCEEDED"
    (result,) = done.output.results
    assert result.orig_prompt == "a shop sign" and result.url.startswith(sdk.url)


def test_sdk_image2image_imageedit_with_function(sdk):
    submitted = ImageSynthesis.async_call(
        model="wanx2.1-imageedit", prompt="a red hat", api_key="sk-sdk", task="image2image",
        function="description_edit_with_mask", base_image_url="https://example.com/b.png",
        mask_image_url="https://example.com/m.png", n=2,
    )
    assert submitted.status_code == 200, submitted
    sdk.advance(3600)
    done = ImageSynthesis.fetch(submitted, api_key="sk-sdk")
    assert done.output.task_status == "SUCCEEDED" and len(done.output.results) == 2
    assert done.usage.image_count == 2


def test_sdk_generic_call_of_the_synchronous_facedetect(sdk):
    """SDK 2.0.2 has no face-detection class; its generic BaseApi.call reaches the vision route synchronously."""
    from dashscope.client.base_api import BaseApi

    route = {"task_group": "vision", "task": "facedetection", "function": "detect", "api_key": "sk-sdk"}
    answer = BaseApi.call(model="facechain-facedetect", input={"images": ["https://example.com/a.jpg"]}, **route)
    assert answer.status_code == 200 and answer.request_id
    assert answer.output == {"is_face": [True], "failed_reason": [""]} and answer.usage == {}
    refused = BaseApi.call(model="facechain-facedetect", input={"images": []}, **route)
    assert (refused.status_code, refused.code, refused.output) == (400, "InvalidParameter", None)
