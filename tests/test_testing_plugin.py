"""The pytest plugin and the testing API, run as a user would run them (with ``pytester``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mockserver.http.edge import NetworkFault
from mockserver.testing import API_KEY, AdminError, InProcess, serve

pytest_plugins = ["pytester"]

USER_TESTS = '''
import dashscope
from dashscope import ImageSynthesis


def test_fail_next_through_the_sdk(dashscope_env):
    dashscope_env.fail_next("InternalError.Timeout")
    failed = ImageSynthesis.call(model="wanx-v1", prompt="a cat", n=1)
    assert (failed.output.task_status, failed.output.code) == ("FAILED", "InternalError.Timeout")
    fine = ImageSynthesis.call(model="wanx-v1", prompt="a cat", n=1)
    assert fine.output.task_status == "SUCCEEDED"


def test_reset_between_tests(dashscope_mock):
    assert dashscope_mock.count() == 0
    assert dashscope_mock.faults() == []


def test_partial_throttle_journal_and_timeline(dashscope_env):
    dashscope_env.throttle(n=1, retry_after=1)
    assert ImageSynthesis.async_call(model="wanx-v1", prompt="a cat", n=4).status_code == 429
    dashscope_env.partial(2)
    task = ImageSynthesis.async_call(model="wanx-v1", prompt="a cat", n=4)
    answer = ImageSynthesis.wait(task)
    assert answer.usage.image_count == 2
    task_id = task.output.task_id
    polls = dashscope_env.requests(task_id=task_id, route="query")
    assert [poll["task_status"] for poll in polls] == ["SUCCEEDED"]
    assert dashscope_env.count(status=429) == 1
    events = [event["event"] for event in dashscope_env.timeline(task_id)]
    assert events[0] == "submit" and events[-1] == "poll"
    dashscope_env.advance(hours=25)
    assert ImageSynthesis.fetch(task_id).output.task_status == "UNKNOWN"


def test_sdk_environment(dashscope_env):
    import os
    assert os.environ["DASHSCOPE_HTTP_BASE_URL"] == dashscope_env.base_url == dashscope.base_http_api_url
'''


def test_plugin_fixtures_for_sdk_users(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_settings_fixture_override_and_bad_rules(pytester):
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def dashscope_mock_settings():
    return {"clock": "manual", "speed": 1}
''')
    pytester.makepyfile(test_manual='''
import pytest
from mockserver.testing import AdminError


def test_manual_clock(dashscope_mock):
    before = dashscope_mock.now()
    assert dashscope_mock.advance(minutes=2) == before + 120
    assert dashscope_mock.freeze()["mode"] == "manual"


def test_a_bad_rule_says_why(dashscope_mock):
    with pytest.raises(AdminError, match="unknown error code"):
        dashscope_mock.fail_next("NoSuchCode")
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_serve_outside_pytest():
    with serve(clock="manual") as mock:
        mock.timing(pending=600)
        submitted = httpx.post(f"{mock.base_url}/services/aigc/text2image/image-synthesis",
                               json={"model": "wanx-v1", "input": {"prompt": "a cat"}},
                               headers={"Authorization": "Bearer sk-x", "X-DashScope-Async": "enable"})
        task_id = submitted.json()["output"]["task_id"]
        mock.advance(minutes=9)
        assert mock.timeline(task_id)[-1] == {**mock.timeline(task_id)[-1], "task_status": "PENDING"}
        assert len(mock.faults()) == 1 and mock.faults()[0]["fired"] == 1
        with pytest.raises(AdminError):
            mock.network("melt")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{mock.url}/__mock/health")


def test_a_manual_clock_gets_realistic_durations_unless_told():
    body = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 4}}
    headers = {"Authorization": "Bearer sk-x", "X-DashScope-Async": "enable"}
    with serve(clock="manual") as mock:
        task_id = mock.client.post("/api/v1/services/aigc/text2image/image-synthesis", json=body,
                                   headers=headers).json()["output"]["task_id"]

        def status() -> str:
            return mock.client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["output"]["task_status"]

        assert mock.emulator.settings.speed == 1.0 and status() == "PENDING"
        mock.advance(2)
        assert status() == "RUNNING"
        mock.advance(minutes=2)
        assert status() == "SUCCEEDED"
    with serve(clock="manual", speed=float("inf")) as mock:
        assert mock.emulator.settings.speed == float("inf")
    with serve() as mock:
        assert mock.emulator.settings.speed == float("inf")  # a running clock: tasks end at once


def test_in_process_app_for_httpx_clients():
    app = InProcess(clock="manual")

    async def run() -> None:
        async with app.client() as client:
            await app.admin.fail_next("InternalError.Algo")
            submitted = await client.post("/api/v1/services/aigc/text2image/image-synthesis/",
                                          json={"model": "wanx-v1", "input": {"prompt": "a cat"}},
                                          headers={"X-DashScope-Async": "enable"})
            task_id = submitted.json()["output"]["task_id"]
            await app.admin.advance(hours=1)
            answer = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]
            assert (answer["task_status"], answer["code"]) == ("FAILED", "InternalError.Algo")
            assert await app.admin.count(task_id=task_id) == 2
            await app.admin.network("reset", route="query")
            with pytest.raises(NetworkFault):
                await client.get(f"/api/v1/tasks/{task_id}")

    asyncio.run(run())


def test_in_process_admin_drives_accounts_and_state():
    app = InProcess(clock="manual")

    async def run() -> None:
        async with app.client() as client:
            await app.admin.free_tier_only("wanx-v1", key=API_KEY, remaining=0)
            assert await app.admin.usage("wanx-v1", key=API_KEY) == {"free_quota": 500, "used": 500, "remaining": 0}
            body = {"model": "wanx-v1", "input": {"prompt": "a cat"}}
            refused = await client.post("/api/v1/services/aigc/text2image/image-synthesis",
                                        json=body, headers={"X-DashScope-Async": "enable"})
            assert refused.json()["code"] == "AllocationQuota.FreeTierOnly"
            saved = await app.admin.snapshot()
            await app.admin.reset()
            assert (await app.admin.usage("wanx-v1", key=API_KEY))["used"] == 0
            await app.admin.restore(saved)
            assert (await app.admin.usage("wanx-v1", key=API_KEY))["used"] == 500

    asyncio.run(run())
