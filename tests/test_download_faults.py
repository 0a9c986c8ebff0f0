"""Fault rules on result downloads (route: download): a transfer cut, reset or refused rule."""

from __future__ import annotations

import time

import httpx
import pytest


def _image_url(server) -> tuple[str, str]:
    task_id = server.submit(input={"prompt": "a cat"}, parameters={"n": 1}).json()["output"]["task_id"]
    server.advance(60)
    output = server.query(task_id).json()["output"]
    return task_id, output["results"][0]["url"]


def test_a_download_can_be_cut_short_then_served_whole(server):
    task_id, url = _image_url(server)
    account = server.account(key="sk-test")["account"]
    server.add_rule(match={"route": "download", "account": account}, network={"kind": "truncate"}, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content.startswith(b"\x89PNG")
    downloads = server.requests(route="download", task_id=task_id)
    assert [entry["fault"] for entry in downloads] == ["network:truncate", None]


def test_a_download_reset_is_journaled_without_a_status(server):
    task_id, url = _image_url(server)
    server.add_rule(match={"route": "download"}, network={"kind": "reset"}, count=1)
    with pytest.raises(httpx.TransportError):
        httpx.get(url)
    deadline = time.monotonic() + 10  # the reset reaches the client before the server journals it
    while not (entries := server.requests(route="download")):
        assert time.monotonic() < deadline, "the reset download was never journaled"
    assert [(entry["status"], entry["fault"]) for entry in entries] == [(None, "network:reset")]


def test_a_download_rule_takes_no_http_effect(server):
    answer = server.client.post("/__mock/faults", json={"match": {"route": "download"}, "http": {"code": "InternalError"}})
    assert answer.status_code == 400 and "network effects only" in answer.text
