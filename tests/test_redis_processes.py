"""The Redis store end to end: emulators in separate processes on separate ports, one state.

Real processes (``python -m mockserver serve --store redis://...``) on one real
redis-server, real HTTP on loopback: a burst spread over two emulators admits
exactly the account's rate and concurrency, and a task submitted to one is
answered alike by the other (whose result URLs it also serves).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from redis_server import redis_url  # noqa: F401  (the fixture)
from test_durable_store import ASYNC, SUBMIT, serve  # noqa: F401  (serve: the fixture)

ACCOUNT = {"id": "a", "keys": ["sk-a"], "limits": {"*": {"submit_per_second": 3, "concurrency": 1}}, "requests_per_second": 20}


def _burst(urls: list[str], method: str, path: str, count: int) -> list[httpx.Response]:
    """``count`` requests at once, spread over the emulators at ``urls``, a connection each."""
    answers: list[httpx.Response] = [None] * count  # type: ignore[list-item]
    gate = threading.Barrier(count)

    def one(index: int) -> None:
        body = {"model": "wanx-v1", "input": {"prompt": "a cat"}} if method == "POST" else None
        with httpx.Client(base_url=urls[index % len(urls)], headers={"Authorization": "Bearer sk-a"}, timeout=30) as client:
            gate.wait()
            answers[index] = client.request(method, path, json=body, headers=ASYNC if body else {})

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("layout", ["two ports", "two workers on one port"])
def test_two_emulators_on_one_redis_admit_exactly_the_rate_and_concurrency_and_answer_alike(serve, redis_url, tmp_path: Path, layout: str):  # noqa: F811
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    config = tmp_path / "mock.yaml"
    config.write_text(json.dumps({"accounts": [ACCOUNT]}))
    args = ("--store", redis_url, "--clock", "manual", "--config", str(config), "--log-level", "warning")
    if layout == "two ports":
        first, second = serve(*args), serve(*args)
    else:
        first = second = serve(*args, "--workers", "2")
    urls = [first.url, second.url]

    submits = _burst(urls, "POST", SUBMIT, 30)
    codes = [response.status_code for response in submits]
    assert codes.count(200) == 3 and codes.count(429) == 27  # one window of a standing, shared clock
    task_ids = [response.json()["output"]["task_id"] for response in submits if response.status_code == 200]
    assert len(set(task_ids)) == 3
    polls = _burst(urls, "GET", f"/api/v1/tasks/{task_ids[0]}", 50)
    assert [response.status_code for response in polls].count(200) == 20  # the 20/s request limit, across both

    first.control("POST", "/clock/advance", {"seconds": 600})  # the clock is shared: both see the tasks end
    for task_id in task_ids:
        answers = [httpx.get(f"{url}/api/v1/tasks/{task_id}", headers={"Authorization": "Bearer sk-a"}) for url in urls]
        assert answers[0].status_code == 200 and answers[0].json()["output"]["task_status"] == "SUCCEEDED"
        one, other = (json.dumps(answer.json()["output"]).replace(url, "") for answer, url in zip(answers, urls))
        assert one == other  # but for each emulator's own address in the result URLs
        result = answers[0].json()["output"]["results"][0]["url"].replace(first.url, second.url)
        download = httpx.get(result)  # one emulator's signed URL, fetched from the other: one URL secret
        assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    tasks = {task["task_id"]: task for task in second.control("GET", "/state")["tasks"]}
    plans = sorted((tasks[task_id]["scheduled_at"], tasks[task_id]["ended_at"]) for task_id in task_ids)
    assert all(end <= start for (_, end), (start, _) in zip(plans, plans[1:]))  # concurrency 1: one after another
    for served in {id(first): first, id(second): second}.values():
        served.stop()
