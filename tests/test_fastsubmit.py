"""Submits in one pass (``mockserver/http/fastsubmit.py``) answer exactly as the general path does.

Each submit goes once through the app as served (the fast path takes it) and
once straight into the edge behind it (the general path), on one emulator:
status, header names in order, header values and body must be the same, but
for the ids and the timing headers, which differ per request. The journal
records both alike.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from asgi_calls import exchange, masked, read_wire
from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app
from mockserver.http.fastpath import FastPath
from mockserver.settings.config import Settings

KEY = "sk-fast"
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RESULT_URL = re.compile(rb"dashscope-result-[^\"]*")  # a result's folder and signature follow from its task id
PER_REQUEST = {b"req-cost-time", b"x-envoy-upstream-service-time", b"x-request-id", b"eagleeye-traceid"}
PATH = "/api/v1/services/aigc/text2image/image-synthesis"
GOOD = b'{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":1}}'
AUTH = [(b"host", b"127.0.0.1:8580"), (b"authorization", f"Bearer {KEY}".encode()), (b"x-dashscope-async", b"enable")]


def request(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8580), "state": {}}


async def call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, headers, answer = await exchange(app, scope, body)
    hidden = set(PER_REQUEST)
    if (b"content-encoding", b"gzip") in headers or RESULT_URL.search(answer):  # the ids differ; so do the
        hidden.add(b"content-length")  # number of a signature's %-escapes
    return status, masked(headers, hidden), RESULT_URL.sub(b"<url>", UUID.sub(b"<id>", answer))


@pytest.fixture
def app():
    settings = Settings(clock="manual", clock_start=1709260684.485, seed=5, reject_keys=["sk-revoked"])
    return create_app(emulator=Emulator(settings))


def wired(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """The fast path's answer at the socket (:meth:`FastPath.wire`), read back as :func:`call` reads one; None when
    it leaves the submit to the ASGI path."""
    answer = app.state.fastpath.wire(scope, body, True)
    if answer is None:
        return None
    status, headers, answered = read_wire(answer)
    assert "body" not in scope["state"]  # answered, body forgotten
    hidden = set(PER_REQUEST)
    if (b"content-encoding", b"gzip") in headers or RESULT_URL.search(answered):
        hidden.add(b"content-length")
    return status, masked(headers, hidden), RESULT_URL.sub(b"<url>", UUID.sub(b"<id>", answered))


def untimed(answer: tuple) -> tuple:
    """An answer with its times (the arrival, the start of the answer, the date) masked too."""
    status, headers, body = answer
    return status, masked(headers, {b"req-arrive-time", b"resp-start-time", b"date"}), body


def both(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[tuple, tuple]:
    """The fast path's answer and the general path's to the same submit; its answer at the socket, where it gives
    one, is checked to be the same as its ASGI answer."""
    fast = app.middleware_stack.app  # the overload guard wraps the fast path
    assert isinstance(fast, FastPath)
    app.state.emulator.clock.advance(1)  # a second apart: per-second limits never mix them
    served_scope = {**request(path, headers, body), "app": app}
    served = asyncio.run(call(app, served_scope, body))
    assert "request_id" in served_scope["state"] and "body" not in served_scope["state"]  # answered, body forgotten
    assert "endpoint" not in served_scope  # Starlette's router marks the scopes it routes: the fast path answered
    general = asyncio.run(call(fast.edge, {**request(path, headers, body), "app": app}, body))
    app.state.emulator.clock.advance(1)  # a second later (the submit limit), so its times differ from the others'
    at_the_socket = wired(app, request(path, headers, body), body)
    if at_the_socket is not None:
        assert untimed(at_the_socket) == untimed(served)
    app.state.at_the_socket = at_the_socket is not None
    return served, general


CASES = {
    "accepted": (PATH, AUTH, GOOD),
    "trailing slash": (PATH + "/", AUTH, GOOD),
    "gzip": (PATH, [*AUTH, (b"accept-encoding", b"gzip")], GOOD),
    "no key": (PATH, AUTH[:1] + AUTH[2:], GOOD),
    "revoked key": (PATH, [AUTH[0], (b"authorization", b"Bearer sk-revoked"), AUTH[2]], GOOD),
    "not json": (PATH, AUTH, b"{not json"),
    "empty body": (PATH, AUTH, b""),
    "unknown model": (PATH, AUTH, b'{"model":"no-such-model","input":{"prompt":"a cat"}}'),
    "bad parameter": (PATH, AUTH, b'{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":99}}'),
    "not async": (PATH, AUTH[:2], GOOD),
    "wrong route": ("/api/v1/services/aigc/image2image/image-synthesis", AUTH, GOOD),
    "other service": ("/api/v1/services/nosuch/text2image/image-synthesis", AUTH, GOOD),
    "synchronous model": ("/api/v1/services/aigc/multimodal-generation/generation", AUTH[:2],
                          b'{"model":"qwen-image-max","input":{"messages":[{"role":"user","content":[{"text":"a cat"}]}]}}'),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_submit_answers_as_through_the_general_path(app, case):
    served, general = both(app, *CASES[case])
    assert served == general
    assert app.state.at_the_socket == (case != "synchronous model")  # whose answer waits for its images
    assert served[0] == (200 if case in ("accepted", "trailing slash", "gzip", "synchronous model") else served[0])
    if case == "no key":
        assert served[0] == 401


def test_too_large_a_body_is_refused_alike(app):
    app.state.emulator.settings.max_body_bytes = 64
    served, general = both(app, PATH, AUTH, GOOD + b" " * 100)
    assert served == general and served[0] == 413
    assert not app.state.at_the_socket  # the ASGI path refuses it


def test_the_journal_records_both_paths_alike(app):
    for case in ("accepted", "no key", "not json"):
        both(app, *CASES[case])
    ignored = {"seq", "time", "request_id", "latency_ms", "task_id"}
    entries = [{k: v for k, v in entry.as_dict().items() if k not in ignored}
               for entry in app.state.emulator.journal.select({"route": "submit"})]
    assert len(entries) == 9  # fast, general and at the socket, three times
    assert entries[0] == entries[1] == entries[2] and entries[3] == entries[4] == entries[5]
    assert entries[6] == entries[7] == entries[8]
    assert entries[0]["task_status"] == "PENDING" and entries[3]["code"] == "InvalidApiKey" and entries[6]["status"] == 400
    tasks = [entry.task_id for entry in app.state.emulator.journal.select({"route": "submit", "status": 200})]
    assert len(set(tasks)) == 3 and all(app.state.emulator.store.get_task(task_id) for task_id in tasks)


def test_a_faulted_submit_goes_the_general_way(app):
    directive = app.state.emulator.faults.header.encode()
    served, general = both(app, PATH, [*AUTH, (directive, b"http=Throttling.RateQuota")], GOOD)
    assert served == general and served[0] == 429  # the gateway answers the fault, before any routing
    assert not app.state.at_the_socket
    served, general = both(app, PATH, [*AUTH, (directive, b"pending=10m")], GOOD)  # shapes the task, not the answer
    assert served == general and served[0] == 200 and app.state.at_the_socket


def test_a_submit_whose_inputs_are_downloaded_is_left_to_the_asgi_path(app):
    """Its answer waits for the download: at the socket nothing is done (no request id, no journal entry)."""
    body = (b'{"model":"wanx2.1-imageedit","input":{"function":"stylization_all","prompt":"a cat",'
            b'"base_image_url":"http://127.0.0.1:9/cat.png"}}')
    journaled = len(app.state.emulator.journal)
    scope = request("/api/v1/services/aigc/image2image/image-synthesis", AUTH, body)
    assert app.state.fastpath.wire(scope, body, True) is None
    assert len(app.state.emulator.journal) == journaled and "request_id" not in scope["state"]
    text_only = body.replace(b'"base_image_url":"http://127.0.0.1:9/cat.png"', b'"base_image_url":7')
    assert app.state.fastpath.wire(request("/api/v1/services/aigc/image2image/image-synthesis", AUTH, text_only),
                                   text_only, True) is not None  # nothing to download: refused at once


def _keyed(key: str) -> list[tuple[bytes, bytes]]:
    return [AUTH[0], (b"authorization", f"Bearer {key}".encode()), AUTH[2]]


def test_directives_still_reach_the_fault_engine_at_the_socket(app):
    """The edge skips the fault engine only when nothing is armed and nothing asked: a directive in the header
    or in the prompt still shapes what is answered at the socket (each submit an account of its own: no queue)."""
    emulator, wire = app.state.emulator, app.state.fastpath.wire
    directive = emulator.faults.header.encode()
    failing_body = GOOD.replace(b'"a cat"', b'"a cat [mock:fail=InternalError.Timeout]"')
    submits = [("sk-waits", [(directive, b"pending=10m")], GOOD), ("sk-plain", [], GOOD),
               ("sk-fails", [], failing_body)]
    ids = []
    for key, extra, body in submits:
        status, _, answer = read_wire(wire(request(PATH, [*_keyed(key), *extra], body), body, True))
        assert status == 200
        ids.append(re.search(rb'"task_id":"([^"]+)"', answer).group(1).decode())
    emulator.clock.advance(300)  # five minutes: a plain task has long ended
    states = [emulator.poll(emulator.authenticate(f"Bearer {key}"), task_id)[1]
              for (key, _, _), task_id in zip(submits, ids)]
    assert states == ["PENDING", "SUCCEEDED", "FAILED"]
    in_prompt = GOOD.replace(b'"a cat"', b'"a cat [mock:http=Throttling.RateQuota]"')
    for extra, body in (([(directive, b"http=Throttling.RateQuota")], GOOD), ([], in_prompt)):
        assert wire(request(PATH, [*_keyed("sk-refused"), *extra], body), body, True) is None  # shapes the answer:
        # the ASGI path serves it
    assert [entry.status for entry in emulator.journal.select({"route": "submit"})] == [200, 200, 200]


def test_a_bad_directive_is_refused_at_the_socket_as_through_the_general_path(app):
    served, general = both(app, PATH, [*AUTH, (app.state.emulator.faults.header.encode(), b"bogus=1")], GOOD)
    assert served == general and served[0] == 400 and app.state.at_the_socket


def test_a_submit_at_the_socket_reads_one_instant_for_its_arrival(app):
    """The edge's arrival (the journal's time) and the gateway's (``req-arrive-time``) are one reading there."""
    emulator = app.state.emulator
    scope = request(PATH, AUTH, GOOD)
    _, headers, _ = read_wire(app.state.fastpath.wire(scope, GOOD, True))
    (entry,) = emulator.journal.select({"route": "submit"})
    arrived = dict(headers)[b"req-arrive-time"]
    assert arrived == b"%d" % int(entry.time * 1000) == b"%d" % int(emulator.clock.now() * 1000)


def test_submit_paths_are_read_once_each_and_bounded():
    from mockserver.http import fastsubmit

    post = {"method": "POST", "root_path": ""}
    assert fastsubmit.submit_params({**post, "path": PATH}) == {"service": "aigc", "group": "text2image",
                                                                  "function": "image-synthesis"}
    assert fastsubmit.submit_params({**post, "path": PATH}) is fastsubmit.submit_params({**post, "path": PATH})
    assert fastsubmit.submit_params({**post, "path": "/api/v1/tasks/x"}) is None
    assert fastsubmit.submit_params({**post, "method": "GET", "path": PATH}) is None
    for number in range(1000):  # made-up paths cannot grow it
        fastsubmit.submit_params({**post, "path": f"/api/v1/services/a/b/c{number}"})
    assert len(fastsubmit._PARAMS) <= fastsubmit._PATHS_KEPT
