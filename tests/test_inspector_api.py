"""The inspector's JSON and pages over raw HTTP: every task paged and filtered, one task, accounts, thumbnails."""

from __future__ import annotations

import io

import pytest
from PIL import Image

KEY, OTHER = "sk-insp-a", "sk-insp-b"


def submit(server, key=KEY, n=1, model="wanx-v1", prompt="a cat", **parameters):
    response = server.submit(key=key, model=model, input={"prompt": prompt}, parameters={"n": n, **parameters})
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def tasks(server, **query):
    response = server.client.get("/__mock/tasks", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_account_newest_first_with_queue_places_and_progress(server):
    first, second, third = submit(server), submit(server), submit(server, key=OTHER)
    page = tasks(server)
    assert page["total"] == 3 and [row["task_id"] for row in page["tasks"]] == [third, second, first]
    rows = {row["task_id"]: row for row in page["tasks"]}
    assert {row["account"] for row in page["tasks"]} == {server.emulator.authenticate(f"Bearer {k}").id for k in (KEY, OTHER)}
    assert rows[second]["status"] == "PENDING" and rows[second]["queue_position"] == 2  # wanx-v1 runs one at a time
    assert rows[first]["queue_position"] == 1
    task = server.emulator.store.get_task(first)
    server.advance(task.scheduled_at - server.now() + task.run_seconds / 2)
    running = {row["task_id"]: row for row in tasks(server)["tasks"]}[first]
    assert running["status"] == "RUNNING" and running["queue_position"] is None
    assert 0.4 <= running["progress"] <= 0.6
    assert running["submitted"].endswith(" +08:00")  # times shown to people say their zone


def test_queue_places_follow_cancels_and_limit_changes(server):
    first, second = submit(server), submit(server)
    server.advance(1)  # wanx-v1 takes 2 submits a second; the first task is running now
    third, fourth = submit(server), submit(server)

    def places() -> dict[str, int | None]:
        return {row["task_id"]: row["queue_position"] for row in tasks(server)["tasks"]}

    assert places() == {first: None, second: 1, third: 2, fourth: 3}
    cancel = server.client.post(f"/api/v1/tasks/{third}/cancel", headers={"Authorization": f"Bearer {KEY}"})
    assert cancel.status_code == 200
    assert places() == {first: None, second: 1, third: None, fourth: 2}
    server.limits("wanx-v1", key=KEY, concurrency=2)  # the queue is re-planned at once
    assert places() == {first: None, second: None, third: None, fourth: 1}


def test_filters_and_paging(server):
    ids = []
    for _ in range(5):
        ids.append(submit(server))
        server.advance(1)  # wanx-v1 takes 2 submits a second
    ids.append(submit(server, key=OTHER, model="wanx2.1-t2i-turbo"))
    account = server.emulator.authenticate(f"Bearer {KEY}").id
    assert tasks(server, account=account)["total"] == 5
    assert [row["task_id"] for row in tasks(server, model="wanx2.1-t2i-turbo")["tasks"]] == [ids[-1]]
    page_two = tasks(server, account=account, page=2, page_size=2)
    assert page_two["total"] == 5 and [row["task_id"] for row in page_two["tasks"]] == [ids[2], ids[1]]
    assert [row["task_id"] for row in tasks(server, q=ids[3])["tasks"]] == [ids[3]]
    assert tasks(server, q=ids[3], account="someone-else")["total"] == 0
    assert [row["task_id"] for row in tasks(server, q=ids[3][:13])["tasks"]] == [ids[3]]  # a part of an id
    server.advance(hours=1)
    assert tasks(server, status="SUCCEEDED")["total"] == 6
    assert tasks(server, status="PENDING", page=1)["total"] == 0


@pytest.mark.parametrize("query, words", [
    ({"status": "DONE"}, "status must be one of PENDING"),
    ({"model": "wanx-v9"}, "unknown model 'wanx-v9'"),
    ({"page": "0"}, "page must be a whole number from 1"),
    ({"page_size": "500"}, "page_size must be a whole number from 1 to 200"),
    ({"page_size": "x"}, "page_size must be a whole number"),
])
def test_bad_queries_are_a_clear_400(server, query, words):
    response = server.client.get("/__mock/tasks", params=query)
    assert response.status_code == 400 and words in response.json()["message"]


def test_one_task_with_failures_and_thumbnails(server):
    server.partial(1, codes=["DataInspectionFailed"])
    partial = submit(server, n=2, size="1280*720")
    server.fail_next("InternalError.Algo")
    failed = submit(server)
    server.advance(hours=1)
    detail = server.client.get(f"/__mock/tasks/{partial}").json()
    assert detail["status"] == "SUCCEEDED" and detail["input"] == {"prompt": "a cat"}
    assert detail["image_failures"] == [{"index": 1, "code": "DataInspectionFailed",
                                         "message": "Output data may contain inappropriate content."}]
    assert detail["thumbnails"] == [f"/__mock/ui/thumbs/{partial}/0.png"]
    thumb = server.client.get(detail["thumbnails"][0])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == (160, 90)  # the result's shape, thumbnail-sized
    assert server.client.get(f"/__mock/ui/thumbs/{partial}/1.png").status_code == 404  # the failed image
    assert server.count(route="download") == 0  # the inspector's looks are not the client's downloads
    broken = server.client.get(f"/__mock/tasks/{failed}").json()
    assert broken["status"] == "FAILED" and broken["failure"]["code"] == "InternalError.Algo"
    assert broken["thumbnails"] == []
    missing = server.client.get("/__mock/tasks/no-such-task")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_accounts_show_limits_usage_and_last_minutes_activity(make_server):
    server = make_server(accounts=[{"id": "team-a", "keys": [KEY], "limits": {"wanx-v1": {"free_quota": 10}}}])
    submit(server, n=2)
    submit(server, n=2)
    assert server.submit(key=KEY).status_code == 429  # wanx-v1: 2 submits a second
    server.advance(3)
    accounts = {account["account"]: account for account in server.client.get("/__mock/accounts").json()["accounts"]}
    team = accounts["team-a"]
    assert team["models"] == {"wanx-v1": {"submit_per_second": 2, "concurrency": 1, "free_quota": 10, "used": 4,
                                          "remaining": 6}}
    activity = team["activity"]
    assert len(activity["submits"]) == 60 and activity["submits"][-4] == 3 and sum(activity["submits"]) == 3
    assert activity["throttled"][-4] == 1 and sum(activity["throttled"]) == 1


def test_pages_and_assets(server):
    task_id = submit(server)
    index = server.client.get("/__mock/ui/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert '<script src="/__mock/ui/static/inspector.js">' in index.text and "wanx-v1" in index.text
    assert "://" not in index.text  # no CDN: every asset comes from the emulator itself
    assert server.client.get("/__mock/ui").headers["location"] == "/__mock/ui/"
    page = server.client.get(f"/__mock/ui/tasks/{task_id}")
    assert page.status_code == 200 and task_id in page.text
    unknown = server.client.get("/__mock/ui/tasks/<script>")
    assert unknown.status_code == 404 and "<script>" not in unknown.text  # escaped
    assert server.client.get("/__mock/ui/static/inspector.js").headers["content-type"].startswith("text/javascript")
    assert server.client.get("/__mock/ui/static/../../config.py").status_code == 404


def test_the_inspector_is_admitted_as_the_control_plane_is():
    import asyncio
    import base64

    import httpx

    from mockserver.settings.config import Settings
    from mockserver.http.app import create_app

    app = create_app(Settings(clock="manual", admin_token="s3cret"))

    async def get(client_host: str, path: str, headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return await client.get(path, headers=headers)

    basic = {"Authorization": "Basic " + base64.b64encode(b"anyone:s3cret").decode()}
    for path in ("/__mock/ui/", "/__mock/tasks", "/__mock/accounts", "/__mock/ui/static/inspector.js"):
        refused = asyncio.run(get("127.0.0.1", path, {}))
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith('Basic realm="')
        assert asyncio.run(get("192.0.2.10", path, {"X-Mock-Admin-Token": "s3cret"})).status_code == 200
        assert asyncio.run(get("192.0.2.10", path, basic)).status_code == 200  # a browser: the token as password
    wrong = {"Authorization": "Basic " + base64.b64encode(b"anyone:nope").decode()}
    assert asyncio.run(get("192.0.2.10", "/__mock/ui/", wrong)).status_code == 401
    assert asyncio.run(get("192.0.2.10", "/__mock/ui/", {"Authorization": "Basic !!"})).status_code == 401
    open_app = create_app(Settings(clock="manual"))
    transport = httpx.ASGITransport(app=open_app, client=("192.0.2.10", 1234))

    async def outsider() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return (await client.get("/__mock/ui/")).status_code

    assert asyncio.run(outsider()) == 403
