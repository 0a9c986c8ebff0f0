"""Compression over raw HTTP: gzip when the client accepts it, ``vary`` always, result downloads untouched."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path

import httpx
import pytest
import requests

from mockserver.http.compression import VARY, Compression, accepts_gzip

AUTH = {"Authorization": "Bearer sk-gzip"}
VARY_TEXT = VARY.decode()


def raw(server, method: str, path: str, encoding: str | None, **kwargs) -> tuple[httpx.Response, bytes]:
    """The answer and its body exactly as it came over the wire (not decoded)."""
    headers = {**AUTH, **kwargs.pop("headers", {})}
    headers["Accept-Encoding"] = encoding if encoding is not None else "identity"
    with server.client.stream(method, path, headers=headers, **kwargs) as response:
        return response, b"".join(response.iter_raw())


def same_but_request_id(packed: bytes, plain: bytes, packed_id: str, plain_id: str) -> None:
    assert gzip.decompress(packed).replace(packed_id.encode(), plain_id.encode()) == plain


@pytest.fixture
def server(make_server):
    return make_server(seed=5, speed=float("inf"))


def test_every_recorded_route_answers_gzip_equal_to_the_plain_body(server):
    submit = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}}
    async_ = {"X-DashScope-Async": "enable"}
    # Submits differ in their task ids: compare the shapes of two, then the bytes of everything else.
    plain, plain_body = raw(server, "POST", "/api/v1/services/aigc/text2image/image-synthesis", None, json=submit, headers=async_)
    packed, packed_body = raw(server, "POST", "/api/v1/services/aigc/text2image/image-synthesis", "gzip", json=submit, headers=async_)
    assert packed.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert int(packed.headers["content-length"]) == len(packed_body)
    task_id = json.loads(plain_body)["output"]["task_id"]
    decoded = gzip.decompress(packed_body)
    assert decoded.startswith(b'{"request_id":"') and b'"task_status":"PENDING"' in decoded
    server.advance(60)
    paths = [
        ("GET", f"/api/v1/tasks/{task_id}", {}),
        ("GET", "/api/v1/tasks", {"params": {"page_size": "5"}}),
        ("POST", f"/api/v1/tasks/{task_id}/cancel", {}),  # a finished task: the 400
        ("GET", "/api/v1/uploads", {"params": {"action": "getPolicy", "model": "wanx-v1"}}),
    ]
    for method, path, extra in paths:
        plain, plain_body = raw(server, method, path, None, **extra)
        packed, packed_body = raw(server, method, path, "gzip", **extra)
        assert packed.status_code == plain.status_code
        assert packed.headers["content-encoding"] == "gzip", path
        assert packed.headers["content-type"] == plain.headers["content-type"]
        assert packed.headers["vary"] == plain.headers["vary"] == VARY_TEXT
        if path.startswith("/api/v1/uploads"):  # a fresh folder and policy each time: compare the shape
            assert list(json.loads(gzip.decompress(packed_body))) == ["data", "request_id"]
            continue
        same_but_request_id(packed_body, plain_body, packed.headers["x-request-id"], plain.headers["x-request-id"])


@pytest.mark.parametrize("header", [None, "identity", "gzip;q=0", "br", "*;q=0", "x-gzip;q=0, *"])
def test_no_gzip_unless_accepted_but_vary_always(server, header):
    response, body = raw(server, "GET", "/api/v1/tasks/none", header)
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == VARY_TEXT
    assert body.startswith(b'{"request_id":')


def test_errors_before_routing_are_compressed_too(server):
    with server.client.stream("GET", "/api/v1/tasks/x", headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())
    assert response.status_code == 401
    assert response.headers["content-encoding"] == "gzip"
    assert b'"No API-key provided."' in gzip.decompress(body)


def test_the_switch_turns_gzip_off_and_keeps_vary(make_server):
    server = make_server(compression=False)
    response, body = raw(server, "GET", "/api/v1/tasks/none", "gzip")
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == VARY_TEXT
    assert body.startswith(b'{"request_id":')


def test_the_sdks_http_library_gets_gzip_and_reads_it(server):
    """The SDK talks through requests, which sends Accept-Encoding: gzip and decodes the answer."""
    response = requests.get(f"{server.base_url}/tasks/none", headers=AUTH, timeout=10)
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["output"] == {"task_id": "none", "task_status": "UNKNOWN"}


def test_result_downloads_keep_their_bytes_ranges_and_validators(server):
    submitted = server.submit(key="sk-gzip", parameters={"n": 1}).json()
    server.advance(60)
    url = server.query(submitted["output"]["task_id"], key="sk-gzip").json()["output"]["results"][0]["url"]
    headers = {"Accept-Encoding": "gzip"}
    with httpx.stream("GET", url, headers=headers) as whole:
        body = b"".join(whole.iter_raw())
    assert whole.status_code == 200 and "content-encoding" not in whole.headers and "vary" not in whole.headers
    assert body.startswith(b"\x89PNG") and int(whole.headers["content-length"]) == len(body)
    etag = whole.headers["etag"]
    assert not etag.startswith("W/")
    part = httpx.get(url, headers={**headers, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == body[:100] and "content-encoding" not in part.headers
    assert httpx.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304


def test_accept_encoding_parsing():
    assert accepts_gzip("gzip") and accepts_gzip("gzip, deflate, br") and accepts_gzip("deflate, x-gzip")
    assert accepts_gzip("*") and accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert not accepts_gzip(None) and not accepts_gzip("") and not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("gzip;q=0, *") and not accepts_gzip("gzip;q=zero")


def _drive(app, accept: str = "gzip") -> list[dict]:
    """Run ``app`` under the compression layer and collect what it sends."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/x", "headers": [(b"accept-encoding", accept.encode())]}
    asyncio.run(Compression(app)(scope, receive, send))
    return sent


def test_a_streamed_body_is_compressed_chunk_by_chunk_without_a_length():
    chunks = [b'{"a":' + b"1" * 5000, b", " * 3000, b'"end"}']

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"etag", b'"ABC"')]})
        for number, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": number < len(chunks) - 1})

    sent = _drive(app)
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip" and b"content-length" not in headers
    assert headers[b"etag"] == b'W/"ABC"'  # the compressed bytes are not the ones the strong tag named
    assert len(sent) == 1 + len(chunks) and [m["more_body"] for m in sent[1:]] == [True, True, False]
    assert gzip.decompress(b"".join(m["body"] for m in sent[1:])) == b"".join(chunks)


@pytest.mark.parametrize(("status", "content_type"), [(206, b"application/json"), (304, b"application/json"),
                                                      (200, b"image/png"), (200, b"application/octet-stream")])
def test_ranges_not_modified_and_binary_bodies_pass_untouched(status, content_type):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", b"4"), (b"etag", b'"E"')]})
        await send({"type": "http.response.body", "body": b"data"})

    sent = _drive(app)
    headers = dict(sent[0]["headers"])
    assert b"content-encoding" not in headers and headers[b"etag"] == b'"E"' and headers[b"vary"] == VARY
    assert sent[1]["body"] == b"data"


def test_the_docs_example_runs_as_written(capsys):
    text = (Path(__file__).parent.parent / "docs" / "captures.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(code, "docs/captures.md", "exec"), {})
    first, second = capsys.readouterr().out.splitlines()
    assert first == f"gzip {VARY_TEXT}"
    assert json.loads(second)["output"] == {"task_id": "no-such-task", "task_status": "UNKNOWN"}
