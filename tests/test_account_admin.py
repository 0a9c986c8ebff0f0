"""Accounts at run time: limits changed while tasks wait, free-tier-only mode, free quotas and usage."""

from __future__ import annotations

import json

import httpx
import pytest

KEY = "sk-account"
FREE_TIER = (
    'The free tier of the model has been exhausted. If you wish to continue access the model on a paid basis, '
    'please disable the "use free tier only" mode in the management console.'
)


def patch(server, key: str = KEY, **body) -> httpx.Response:
    return server.client.patch("/__mock/account", params={"key": key}, json=body)


def account(server, key: str = KEY, model: str = "wanx-v1") -> dict:
    response = server.client.get("/__mock/account", params={"key": key, "model": model})
    assert response.status_code == 200, response.text
    return response.json()


def submit(server, prompt: str = "a cat", key: str = KEY, n: int = 1) -> httpx.Response:
    return server.submit(key=key, input={"prompt": prompt}, parameters={"n": n})


def task(server, prompt: str = "a cat [mock:pending=0;running=100]", **kwargs) -> str:
    response = submit(server, prompt, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def states(server, task_ids: list[str]) -> list[str]:
    return [server.query(task_id, key=KEY).json()["output"]["task_status"] for task_id in task_ids]


# -- limits -------------------------------------------------------------------------------------


def test_raising_concurrency_starts_queued_tasks_at_once(server):
    assert patch(server, models={"wanx-v1": {"submit_per_second": 10}}).status_code == 200
    tasks = [task(server) for _ in range(3)]
    assert states(server, tasks) == ["RUNNING", "PENDING", "PENDING"]
    changed = patch(server, models={"wanx-v1": {"concurrency": 3}})
    assert changed.json()["models"]["wanx-v1"]["concurrency"] == 3
    assert states(server, tasks) == ["RUNNING", "RUNNING", "RUNNING"]  # the clock has not moved
    server.advance(100)
    assert states(server, tasks) == ["SUCCEEDED"] * 3


def test_lowering_concurrency_makes_queued_tasks_start_later(server):
    patch(server, models={"wanx-v1": {"submit_per_second": 10, "concurrency": 2}})
    tasks = [task(server) for _ in range(4)]
    assert states(server, tasks) == ["RUNNING", "RUNNING", "PENDING", "PENDING"]
    patch(server, models={"wanx-v1": {"concurrency": 1}})
    server.advance(150)  # with 2 slots both queued tasks would run from 100 s on
    assert states(server, tasks) == ["SUCCEEDED", "SUCCEEDED", "RUNNING", "PENDING"]
    server.advance(100)
    assert states(server, tasks)[3] == "RUNNING"


def test_a_rate_change_throttles_at_the_new_rate(server):
    patch(server, models={"*": {"submit_per_second": 1}})
    assert [submit(server).status_code for _ in range(2)] == [200, 429]
    server.advance(1)
    patch(server, models={"*": {"submit_per_second": 5}})
    answers = [submit(server) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["code"] == "Throttling.RateQuota"
    patch(server, requests_per_second=2)
    assert [server.query("x", key=KEY).status_code for _ in range(3)] == [200, 200, 429]
    assert patch(server, requests_per_second=None).json()["requests_per_second"] == 20  # back to the default


def test_null_goes_back_to_the_config_and_other_accounts_are_untouched(make_server):
    server = make_server(accounts=[{"id": "team", "keys": [KEY], "limits": {"wanx-v1": {"concurrency": 4}}}])
    assert account(server)["models"]["wanx-v1"]["concurrency"] == 4
    assert patch(server, models={"wanx-v1": {"concurrency": 2}}).json()["models"]["wanx-v1"]["concurrency"] == 2
    assert account(server, key="sk-someone")["models"]["wanx-v1"]["concurrency"] == 1
    by_id = server.client.get("/__mock/account", params={"account": "team", "model": "wanx-v1"}).json()
    assert (by_id["account"], by_id["models"]["wanx-v1"]["concurrency"]) == ("team", 2)
    assert patch(server, models={"wanx-v1": {"concurrency": None}}).json()["models"]["wanx-v1"]["concurrency"] == 4
    server.client.post("/__mock/reset", json={"key": KEY})
    assert account(server)["models"]["wanx-v1"]["concurrency"] == 4


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"free_tier_only": True, "models": {"wanx-v9": {"concurrency": 2}}}, "unknown model"),
        ({"free_tier_only": True, "models": {"wanx-v1": {"concurrency": 0}}}, "concurrency"),
        ({"free_tier_only": True, "models": {"wanx-v1": {"used": 1, "remaining": 1}}}, "not both"),
        ({"free_tier_only": True, "models": {"wanx-v1": {"remaining": 501}}}, "free quota 500"),
        ({"free_tier_only": True, "models": {"*": {"used": 0}}}, "name the model"),
        ({"free_tier_only": True, "speed": 2}, "speed: Extra inputs"),
        ({"free_tier_only": "yes please"}, "free_tier_only"),
    ],
)
def test_a_bad_change_is_a_400_and_changes_nothing(server, body, words):
    response = patch(server, **body)
    assert response.status_code == 400
    assert words in response.json()["message"]
    assert account(server) == {"account": account(server)["account"], "free_tier_only": False, "requests_per_second": 20,
                               "models": {"wanx-v1": {"submit_per_second": 2, "concurrency": 1, "free_quota": 500,
                                                      "used": 0, "remaining": 500}}}


def test_the_account_must_be_named(server):
    assert server.client.get("/__mock/account").status_code == 400
    bad_json = server.client.patch("/__mock/account", params={"key": KEY}, content=b"[1", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert server.client.get("/__mock/account", params={"key": KEY, "model": "nope"}).status_code == 400


# -- free quota -----------------------------------------------------------------------------------


def test_free_tier_only_refuses_a_submit_past_the_free_quota(server):
    described = patch(server, free_tier_only=True, models={"wanx-v1": {"remaining": 3}}).json()
    assert described["models"]["wanx-v1"] == {"submit_per_second": 2, "concurrency": 1, "free_quota": 500,
                                              "used": 497, "remaining": 3}
    assert submit(server, n=2).status_code == 200
    refused = submit(server, n=2)  # one image left, two asked: refused whole (free_tier_check: requested)
    assert refused.status_code == 403
    body = refused.json()
    assert list(body) == ["code", "message", "request_id"]
    assert (body["code"], body["message"]) == ("AllocationQuota.FreeTierOnly", FREE_TIER)
    server.advance(1)  # the refused submit still counted against the 2 submits a second
    assert submit(server, n=1).status_code == 200
    assert submit(server, n=1).status_code == 403
    assert account(server)["models"]["wanx-v1"]["remaining"] == 0
    assert account(server, model="wanx2.1-t2i-turbo")["models"]["wanx2.1-t2i-turbo"]["remaining"] == 500
    assert server.submit(key=KEY, model="wanx2.1-t2i-turbo", parameters={"n": 1}).status_code == 200
    cleared = server.client.delete("/__mock/account/usage", params={"key": KEY, "model": "wanx-v1"})
    assert cleared.json()["models"]["wanx-v1"]["used"] == 0
    server.advance(1)
    assert submit(server, n=1).status_code == 200


def test_only_images_planned_to_succeed_count_and_a_cancel_gives_them_back(server):
    patch(server, models={"wanx-v1": {"submit_per_second": 10}})
    task(server, "x [mock:fail=InternalError]", n=4)
    assert account(server)["models"]["wanx-v1"]["used"] == 0
    task(server, "x [mock:partial=1]", n=4)
    assert account(server)["models"]["wanx-v1"]["used"] == 3
    queued = task(server, "x [mock:pending=0;running=100]", n=2)
    assert account(server)["models"]["wanx-v1"]["used"] == 5
    assert server.client.post(f"/api/v1/tasks/{queued}/cancel", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert account(server)["models"]["wanx-v1"]["used"] == 3


def test_without_free_tier_only_usage_runs_past_the_quota(server):
    patch(server, models={"wanx-v1": {"free_quota": 1}})
    assert [submit(server, n=1).status_code for _ in range(2)] == [200, 200]  # not free-tier-only: paid
    assert account(server)["models"]["wanx-v1"]["used"] == 2
    assert account(server)["models"]["wanx-v1"]["remaining"] == 0


def test_exhausted_check_refuses_only_when_nothing_remains(make_server):
    server = make_server(free_tier_check="exhausted", accounts=[
        {"id": "free", "keys": [KEY], "free_tier_only": True, "limits": {"wanx-v1": {"free_quota": 2}}}])
    assert submit(server, n=4).status_code == 200  # two left, four asked: let through
    server.advance(1)
    assert submit(server, n=1).status_code == 403
    assert account(server)["models"]["wanx-v1"]["used"] == 4


def test_a_refused_submit_is_journaled_and_uses_no_fault_rule(server):
    patch(server, free_tier_only=True, models={"wanx-v1": {"remaining": 0}})
    server.client.post("/__mock/faults", json={"fail": {"code": "InternalError"}, "count": 1})
    assert submit(server).status_code == 403
    assert server.client.get("/__mock/faults").json()["rules"][0]["fired"] == 0
    assert server.client.get("/__mock/requests/count", params={"status": 403}).json() == {"count": 1}


def test_testing_helpers_drive_limits_and_quotas():
    from mockserver.testing import serve

    with serve(clock="manual") as mock:
        state = mock.free_tier_only("wanx-v1", key=KEY, remaining=1)
        assert (state["free_tier_only"], state["models"]["wanx-v1"]["remaining"]) == (True, 1)
        assert mock.limits("wanx-v1", key=KEY, concurrency=3)["models"]["wanx-v1"]["concurrency"] == 3
        headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
        body = json.dumps({"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}})
        url = "/api/v1/services/aigc/text2image/image-synthesis"
        assert mock.client.post(url, content=body, headers=headers).status_code == 200
        assert mock.usage("wanx-v1", key=KEY) == {"free_quota": 500, "used": 500, "remaining": 0}
        assert mock.client.post(url, content=body, headers=headers).status_code == 403
        mock.reset_usage(key=KEY)
        assert mock.usage("wanx-v1", key=KEY)["used"] == 0
        assert mock.free_tier_only(key=KEY, enabled=False)["free_tier_only"] is False
