"""The fast poll path answers exactly as the general path (edge, gateway, router) does.

Each poll goes once through the app as served (the fast path takes it) and
once straight into the edge behind it (the general path), on one emulator:
status, header names in order, header values and body must be the same, but
for the request id and the timing headers, which differ per request.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from asgi_calls import exchange, masked, read_wire
from mockserver.settings.config import Settings
from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app
from mockserver.http.fastpath import FastPath

KEY = "sk-fast"
START = 1709260684.485
REQUEST_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMING = {b"req-cost-time", b"x-envoy-upstream-service-time", b"x-request-id"}


def scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8580), "state": {}}


async def call(app: Any, request: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, headers, body = await exchange(app, request)
    hidden = set(TIMING)
    if (b"content-encoding", b"gzip") in headers:  # the request ids differ: compare what is inside
        hidden.add(b"content-length")
    return status, masked(headers, hidden), REQUEST_ID.sub(b"<request id>", body)


@pytest.fixture
def app():
    settings = Settings(clock="manual", clock_start=START, seed=3, requests_per_second=4, reject_keys=["sk-revoked"])
    emulator = Emulator(settings)
    app = create_app(emulator=emulator)
    body = b'{"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 2}}'
    submit = scope("/api/v1/services/aigc/text2image/image-synthesis",
                   [(b"authorization", f"Bearer {KEY}".encode()), (b"x-dashscope-async", b"enable")], "POST")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    answers: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    asyncio.run(app(submit, receive, send))
    app.state.task_id = re.search(rb'"task_id":"([^"]+)"', answers[-1]["body"]).group(1).decode()
    return app


def wired(app: Any, request: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The fast path's answer at the socket (:meth:`FastPath.wire`), read back as :func:`call` reads an answer."""
    status, headers, body = read_wire(app.state.fastpath.wire(request, b"", True))
    hidden = TIMING | ({b"content-length"} if (b"content-encoding", b"gzip") in headers else set())
    return status, masked(headers, hidden), REQUEST_ID.sub(b"<request id>", body)


def both(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[tuple, tuple]:
    """The answer of the fast path and the general path's to the same poll; the fast path's answer at the socket
    is checked to be the same as its ASGI answer."""
    fast = app.middleware_stack.app  # the overload guard wraps the fast path
    assert isinstance(fast, FastPath)
    app.state.emulator.clock.advance(1)  # a second apart: the per-second query limit never mixes them
    request = scope(path, headers)
    served = asyncio.run(call(app, request))
    assert "request_id" not in request["state"]  # the gateway's mark: the fast path answered
    general = asyncio.run(call(fast.edge, {**scope(path, headers), "app": app}))
    assert wired(app, scope(path, headers)) == served
    return served, general


AUTH = [(b"host", b"127.0.0.1:8580"), (b"authorization", f"Bearer {KEY}".encode())]


@pytest.mark.parametrize("case", ["pending", "running", "succeeded", "trailing slash", "unknown task", "no key",
                                  "revoked key", "bare key", "odd host", "no host", "gzip", "gzip refused"])
def test_the_fast_path_answers_as_the_general_path(app, case):
    path, headers = f"/api/v1/tasks/{app.state.task_id}", AUTH
    emulator = app.state.emulator
    if case == "running":
        emulator.clock.advance(1)
    elif case == "succeeded":
        emulator.clock.advance(120)
    elif case == "trailing slash":
        path += "/"
    elif case == "unknown task":
        path = "/api/v1/tasks/no-such-task"
    elif case == "no key":
        headers = AUTH[:1]
    elif case == "revoked key":
        headers = [AUTH[0], (b"authorization", b"Bearer sk-revoked")]
    elif case == "bare key":
        headers = [AUTH[0], (b"authorization", KEY.encode())]
    elif case == "odd host":
        emulator.clock.advance(120)
        headers = [(b"host", b"[::1]:8580"), AUTH[1]]
    elif case == "no host":
        emulator.clock.advance(120)
        headers = AUTH[1:]
    elif case == "gzip":
        headers = [*AUTH, (b"accept-encoding", b"gzip, deflate")]
    elif case == "gzip refused":
        headers = [AUTH[0], (b"accept-encoding", b"gzip")]
    served, general = both(app, path, headers)
    assert served == general
    if case.startswith("gzip"):
        assert (b"content-encoding", b"gzip") in served[1] and any(name == b"vary" for name, _ in served[1])
    if case == "succeeded":
        assert b"http://127.0.0.1:8580/dashscope-result-" in served[2]  # the URLs on the Host the poll came to


def test_throttled_polls_answer_alike(app):
    path = f"/api/v1/tasks/{app.state.task_id}"
    fast = app.middleware_stack.app
    answers = []
    for target in (app, fast.edge):  # four a second are allowed: the fifth is 429 on either path
        app.state.emulator.clock.advance(1)
        answered = [asyncio.run(call(target, {**scope(path, AUTH), "app": app})) for _ in range(5)]
        answers.append([(status, [name for name, _ in headers], body) for status, headers, body in answered])
    app.state.emulator.clock.advance(1)
    answered = [wired(app, scope(path, AUTH)) for _ in range(5)]
    answers.append([(status, [name for name, _ in headers], body) for status, headers, body in answered])
    assert answers[0] == answers[1] == answers[2]  # a second apart: the same but for the times in the headers
    assert [status for status, _, _ in answers[0]] == [200, 200, 200, 200, 429]


def test_the_journal_records_both_paths_alike(app):
    path = f"/api/v1/tasks/{app.state.task_id}"
    both(app, path, AUTH)
    both(app, path, AUTH[:1])
    ignored = {"seq", "time", "request_id", "latency_ms"}
    entries = [{k: v for k, v in entry.as_dict().items() if k not in ignored}
               for entry in app.state.emulator.journal.select({"route": "query"})]
    assert len(entries) == 6  # fast, general and at the socket, twice
    assert entries[0] == entries[1] == entries[2] and entries[3] == entries[4] == entries[5]
    assert entries[3]["status"] == 401 and entries[3]["code"] == "InvalidApiKey"


def test_a_rendered_image_downloads_as_through_the_general_path(app):
    emulator = app.state.emulator
    emulator.clock.advance(120)
    url = emulator.result_url(emulator.store.get_task(app.state.task_id), 0, "http://127.0.0.1:8580")
    path, _, query = url.removeprefix("http://127.0.0.1:8580").partition("?")
    download = {**scope(path, [(b"host", b"127.0.0.1:8580")]), "query_string": query.encode(), "app": app}
    fast = app.middleware_stack.app
    first = asyncio.run(call(app, dict(download)))  # not rendered yet: the general path renders it
    scopes = [{**download, "state": {}} for _ in range(3)]
    answers = [asyncio.run(call(target, request)) for target, request in zip((app, fast.edge, app), scopes)]
    # the gateway (general path only) leaves its request id in the scope: the fast path answered 1 and 3
    assert ["request_id" in request["state"] for request in scopes] == [False, True, False]
    assert first[0] == 200 and len(first[2]) > 1000
    oss_id = [dict(headers)[b"x-oss-request-id"] for _, headers, _ in answers]
    assert len(set(oss_id)) == 3  # a request id of its own each time

    def same(answer):
        status, headers, body = answer
        return status, [(name, b"-" if name == b"x-oss-request-id" else value) for name, value in headers], body

    assert same(answers[0]) == same(answers[1]) == same(answers[2]) == same(first)  # the third: a remembered URL
    entries = [entry.as_dict() for entry in emulator.journal.select({"route": "download"})]
    assert [entry["request_id"] for entry in entries[1:]] == [value.decode() for value in oss_id]
    ignored = {"seq", "request_id", "latency_ms"}
    assert len({tuple((k, v) for k, v in entry.items() if k not in ignored) for entry in entries}) == 1
    at_the_socket = wired(app, {**download, "state": {}})  # and answered at the socket: the same again
    assert same(at_the_socket) == same(first)
    last = emulator.journal.select({"route": "download"})[-1].as_dict()
    assert last["request_id"] == dict(at_the_socket[1])[b"x-oss-request-id"].decode()
    assert {k: v for k, v in last.items() if k not in ignored} == {k: v for k, v in entries[0].items() if k not in ignored}


def test_an_image_too_big_for_one_write_goes_the_asgi_way_without_drawing_an_id(app, monkeypatch):
    """Declined at the socket, the download must not draw the gateway's id: the path that serves it draws it
    (a seeded run's ids stay one a request)."""
    from mockserver.http import fastdownload

    request, _ = _download(app)
    emulator = app.state.emulator
    assert asyncio.run(call(app, dict(request, state={})))[0] == 200  # rendered and cached now
    monkeypatch.setattr(fastdownload, "JOIN_LIMIT", 100)  # the image is bigger than that
    drawn = emulator.ids.state()
    assert app.state.fastpath.wire(dict(request, state={}), None, True) is None
    assert emulator.ids.state() == drawn


def _download(app: Any) -> tuple[dict[str, Any], int]:
    """A GET of the fixture task's first result image (the task has ended), and when its URL expires."""
    emulator = app.state.emulator
    emulator.clock.advance(120)
    url = emulator.result_url(emulator.store.get_task(app.state.task_id), 0, "http://127.0.0.1:8580")
    path, _, query = url.removeprefix("http://127.0.0.1:8580").partition("?")
    expires = int(dict(part.split("=", 1) for part in query.split("&"))["Expires"])
    return {**scope(path, [(b"host", b"127.0.0.1:8580")]), "query_string": query.encode(), "app": app}, expires


def _get(app: Any, request: dict[str, Any]) -> tuple[int, bool]:
    """(status, whether the fast path answered: the gateway of the general path leaves its request id in the state)"""
    request = {**request, "state": {}}
    status = asyncio.run(call(app, request))[0]
    return status, "request_id" not in request["state"]


def test_a_remembered_download_is_checked_again_against_the_clock(app):
    request, expires = _download(app)
    assert [_get(app, request), _get(app, request)] == [(200, False), (200, True)]  # rendered by the general path
    app.state.emulator.clock.advance(expires - app.state.emulator.clock.now())
    assert _get(app, request) == (200, True)  # the last second it is valid
    app.state.emulator.clock.advance(1)
    assert app.state.fastpath.wire({**request, "state": {}}, b"", True) is None  # not at the socket either
    assert _get(app, request) == (403, False)  # expired: OSS's error, from the general path


def test_a_remembered_download_is_checked_again_against_the_store(app):
    request, _ = _download(app)
    assert [_get(app, request), _get(app, request)] == [(200, False), (200, True)]
    app.state.emulator.store.reset()
    assert _get(app, request) == (404, False)  # the task is gone: no such key
