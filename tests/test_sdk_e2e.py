"""The official SDK, unmodified, against the real server on loopback: both the 1.20.x and 2.0.x lines.

Each SDK line runs in its own interpreter through ``sdk_driver.py``; the test
moves the emulator's clock between calls, so the SDK's ``wait`` never sleeps.
"""

from __future__ import annotations

import pytest

from mockserver.lifecycle.task import Outcome
from sdk_envs import CURRENT, LEGACY, SdkDriver, legacy_python

pytestmark = pytest.mark.e2e
KEY = "sk-e2e"


@pytest.fixture(scope="session", params=["2.0", "1.20"])
def sdk_python(request):
    return CURRENT if request.param == "2.0" else legacy_python()


@pytest.fixture
def connect(sdk_python, make_server):
    drivers: list[SdkDriver] = []

    def connect(**settings):
        server = make_server(**settings)
        driver = SdkDriver(sdk_python, server.api)
        drivers.append(driver)
        return server, driver

    yield connect
    for driver in drivers:
        driver.close()


def test_the_versions_are_the_ones_meant(sdk_python, connect):
    _, sdk = connect()
    expected = "2.0." if sdk_python == CURRENT else LEGACY
    assert sdk.version.startswith(expected)


def test_call_returns_four_images(connect):
    server, sdk = connect(speed=float("inf"))
    answer = sdk("call", model="wanx-v1", prompt="a cat", n=4, api_key=KEY)
    assert answer["status_code"] == 200
    assert answer["output"]["task_status"] == "SUCCEEDED"
    urls = [result["url"] for result in answer["output"]["results"]]
    assert len(urls) == 4 and all(url.startswith(server.url + "/dashscope-result-") for url in urls)
    assert answer["usage"]["image_count"] == 4


def test_async_call_then_wait(connect):
    server, sdk = connect()
    submitted = sdk("async_call", model="wanx-v1", prompt="a cat", n=2, api_key=KEY)
    assert (submitted["status_code"], submitted["output"]["task_status"]) == (200, "PENDING")
    server.advance(60)
    done = sdk("wait", task=submitted["output"]["task_id"], api_key=KEY)
    assert done["output"]["task_status"] == "SUCCEEDED"
    assert done["output"]["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 2, "FAILED": 0}


def test_fetch_sees_each_state(connect):
    server, sdk = connect()
    task_id = sdk("async_call", model="wanx2.1-t2i-turbo", prompt="a dog", n=1, api_key=KEY)["output"]["task_id"]
    seen = [sdk("fetch", task=task_id, api_key=KEY)["output"]["task_status"]]
    server.advance(1)
    seen.append(sdk("fetch", task=task_id, api_key=KEY)["output"]["task_status"])
    server.advance(60)
    done = sdk("fetch", task=task_id, api_key=KEY)
    seen.append(done["output"]["task_status"])
    assert seen == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert done["output"]["results"][0]["orig_prompt"] == "a dog"


def test_sketch_to_image_on_its_route(connect):
    server, sdk = connect(speed=float("inf"))
    answer = sdk("call", model="wanx-sketch-to-image-lite", prompt="a tree", n=1, size="768*768",
                 sketch_image_url="https://example.com/sketch.png", task="image2image", api_key=KEY)
    assert answer["output"]["task_status"] == "SUCCEEDED"


def test_cancel_a_queued_task(connect):
    server, sdk = connect()
    sdk("async_call", model="wanx-v1", prompt="first", n=1, api_key=KEY)
    queued = sdk("async_call", model="wanx-v1", prompt="second", n=1, api_key=KEY)["output"]["task_id"]
    server.advance(1)
    canceled = sdk("cancel", task=queued, api_key=KEY)
    assert canceled["status_code"] == 200
    assert sdk("wait", task=queued, api_key=KEY)["output"]["task_status"] == "CANCELED"
    again = sdk("cancel", task=queued, api_key=KEY)
    assert (again["status_code"], again["code"]) == (400, "UnsupportedOperation")
    assert again["message"] == "Failed to cancel the task, please confirm if the task is in PENDING status."


def test_list(connect):
    server, sdk = connect()
    task_id = sdk("async_call", model="wanx-v1", prompt="a cat", n=1, api_key=KEY)["output"]["task_id"]
    answer = sdk("list", api_key=KEY, page_no=1, page_size=10)
    assert answer["status_code"] == 200
    listing = answer["output"]
    assert listing["total"] == 1
    assert listing["data"][0]["task_id"] == task_id


def test_partial_failure(connect):
    server, sdk = connect()
    task_id = sdk("async_call", model="wanx-v1", prompt="a cat", n=4, api_key=KEY)["output"]["task_id"]
    # The test marks image 2 of 4 failed in the emulator it started, through the store (any store).
    task = server.emulator.store.get_task(task_id)
    spec = server.emulator.catalog.errors["DataInspectionFailed"]
    task.image_failures = {1: Outcome(spec.code, spec.text("output"))}
    server.emulator.store.save_task(task)
    server.advance(60)
    done = sdk("wait", task=task_id, api_key=KEY)
    output = done["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert output["task_metrics"] == {"TOTAL": 4, "SUCCEEDED": 3, "FAILED": 1}
    failed = output["results"][1]  # the SDK adds an empty "url" to every result it parses
    assert (failed["code"], failed["message"]) == ("DataInspectionFailed", "Output data may contain inappropriate content.")
    assert all(result["url"] for index, result in enumerate(output["results"]) if index != 1)
    assert done["usage"]["image_count"] == 3


def test_failed_task(connect):
    server, sdk = connect()
    task_id = sdk("async_call", model="wanx-v1", prompt="a cat", size="100*100", api_key=KEY)["output"]["task_id"]
    server.advance(60)
    done = sdk("wait", task=task_id, api_key=KEY)
    assert done["output"]["task_status"] == "FAILED"
    assert done["output"]["code"] == "InvalidParameter"
    assert done["output"]["message"] == "The size is not match the allowed size ['1024*1024', '720*1280', '1280*720']"


def test_unknown_after_24_hours(connect):
    server, sdk = connect()
    task_id = sdk("async_call", model="wanx-v1", prompt="a cat", n=1, api_key=KEY)["output"]["task_id"]
    server.advance(60)
    assert sdk("fetch", task=task_id, api_key=KEY)["output"]["task_status"] == "SUCCEEDED"
    server.advance(24 * 3600)
    assert sdk("fetch", task=task_id, api_key=KEY)["output"]["task_status"] == "UNKNOWN"
    assert sdk("wait", task=task_id, api_key=KEY)["output"]["task_status"] == "UNKNOWN"


def test_throttled_submit(connect):
    server, sdk = connect()
    answers = [sdk("async_call", model="wanx-v1", prompt="a cat", api_key=KEY) for _ in range(3)]
    assert [a["status_code"] for a in answers] == [200, 200, 429]
    assert answers[2]["code"] == "Throttling.RateQuota"
    assert answers[2]["message"] == "Requests rate limit exceeded, please try again later."


@pytest.mark.parametrize(
    ("arguments", "status", "code", "message"),
    [
        ({"model": "wanx-v9"}, 400, "InvalidParameter", "Model not exist."),
        ({"model": "wanx-v1", "task": "image2image"}, 400, "InvalidParameter",
         "url error, please check url！ For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url"),
        ({"model": "wanx-v1", "api_key": "sk-revoked"}, 401, "InvalidApiKey", "Invalid API-key provided."),
    ],
)
def test_synchronous_errors(connect, arguments, status, code, message):
    server, sdk = connect(reject_keys=["sk-revoked"])
    answer = sdk("async_call", **{"prompt": "a cat", "api_key": KEY, **arguments})
    assert (answer["status_code"], answer["code"], answer["message"]) == (status, code, message)


def test_free_tier_only_account_past_its_quota(connect):
    server, sdk = connect(accounts=[{"id": "free", "keys": [KEY], "free_tier_only": True,
                                     "limits": {"wanx-v1": {"free_quota": 2}}}])
    assert sdk("async_call", model="wanx-v1", prompt="a cat", n=2, api_key=KEY)["status_code"] == 200
    answer = sdk("async_call", model="wanx-v1", prompt="a cat", n=1, api_key=KEY)
    assert (answer["status_code"], answer["code"]) == (403, "AllocationQuota.FreeTierOnly")
    assert answer["message"] == (
        "The free tier of the model has been exhausted. If you wish to continue access the model on a paid basis, "
        'please disable the "use free tier only" mode in the management console.'
    )
