"""The synchronous image route through ``MultiModalConversation.call`` on both SDK lines (2.0.x and 1.20.14).

Each line runs in its own interpreter (``tests/sdk_envs.py``); the driver prints what the SDK returned.
"""

from __future__ import annotations

import httpx
import pytest

from sdk_envs import CURRENT, SdkDriver, legacy_python

pytestmark = pytest.mark.e2e
MESSAGES = [{"role": "user", "content": [{"text": "a tea shop sign that reads 'Open'"}]}]


@pytest.fixture(scope="module", params=["2.0", "1.20"])
def sdk(request):
    python = CURRENT if request.param == "2.0" else legacy_python()
    from serving import start_server

    server = start_server()
    driver = SdkDriver(python, server.api)
    yield server, driver
    driver.close()
    server.stop()


def test_the_call_answers_the_image(sdk):
    server, driver = sdk
    answer = driver("multimodal_call", model="qwen-image-max", messages=MESSAGES, api_key="sk-lines", size="928*1664")
    assert answer["status_code"] == 200, answer
    [choice] = answer["output"]["choices"]
    image = choice["message"]["content"][0]["image"]
    assert image.startswith(server.url) and httpx.get(image).status_code == 200
    usage = answer["usage"]  # the SDK's response object adds its own zeroed token counts
    assert (usage["height"], usage["image_count"], usage["width"]) == (1664, 1, 928)


def test_the_calls_error_reaches_the_sdk(sdk):
    _, driver = sdk
    answer = driver("multimodal_call", model="z-image-turbo", messages=MESSAGES, api_key="sk-lines", size="100*100")
    assert (answer["status_code"], answer["code"]) == (400, "InvalidParameter")
