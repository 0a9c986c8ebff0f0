"""The overload guard on a live server: past max_in_flight, DashScope's routes answer 429 Throttling at once and
result downloads 503 ActiveRequestLimitExceeded; the control plane (health too) is still served. Refusals are
counted in the metrics, not journaled."""

from __future__ import annotations

import json
import socket
import time

KEY = "sk-overload"
SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"


def metric(server, prefix: str) -> float:
    """The value of the one sample whose line starts with ``prefix`` (0 when there is none yet)."""
    for line in server.client.get("/__mock/metrics").text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[1])
    return 0.0


def in_flight(server) -> float:
    return metric(server, "dashscope_mock_requests_in_flight")


def served_soon(server, refused: list[int] | None = None) -> bool:
    """Whether a poll is served (not refused) within 10 s. The scrape just before may still count as in flight
    for a moment after its answer went out (its task ends a little later); a refusal meanwhile is fine (and
    noted in ``refused``, for a test that counts refusals)."""
    deadline = time.monotonic() + 10
    while (answer := server.query("any-task", key=KEY)).status_code == 429:
        if refused is not None:
            refused.append(429)
        if time.monotonic() > deadline:
            return False
    return answer.status_code == 200


def names(response) -> list[bytes]:
    return [name.lower() for name, _ in response.headers.raw]


def test_past_the_limit_api_routes_get_429_and_health_still_answers(make_server):
    server = make_server(max_in_flight=2)
    waited: list[int] = []  # polls refused while waiting to be served
    body = json.dumps({"model": "wanx-v1", "input": {"prompt": "a cat"}}).encode()
    host, port = server.url.removeprefix("http://").split(":")
    held = socket.create_connection((host, int(port)))
    try:
        # A submit whose body is still coming: in flight until the rest arrives (no clock, no sleep involved).
        held.sendall(f"POST {SUBMIT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                     f"X-DashScope-Async: enable\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        deadline = time.monotonic() + 10
        while in_flight(server) < 2:  # the held submit and the scrape itself
            assert time.monotonic() < deadline, "the held submit never reached the server"

        assert served_soon(server, waited)  # the held submit and this one: 2, and 2 is the most
        # A control-plane call whose body is still coming: the guard never refuses it, so it is surely in flight.
        extra = socket.create_connection((host, int(port)))
        extra.sendall(f"POST /__mock/faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 5\r\n\r\n{{".encode())  # a JSON write, as the guard requires
        deadline = time.monotonic() + 10
        while (seen := in_flight(server)) < 3:  # both held requests and the scrape
            assert time.monotonic() < deadline, f"the second held request never reached the server ({seen} in flight)"
        refused = server.query("any-task", key=KEY)
        assert refused.status_code == 429
        assert refused.json() == {"code": "Throttling", "message": "Requests throttling triggered.",
                                  "request_id": refused.headers["x-request-id"]}
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["server"] == "istio-envoy"
        # The same headers in the same order as the general path's 429 Throttling (a fault directive's), plain
        # and gzipped (httpx asks for gzip unless told otherwise).
        refusals = {}
        for encoding in ("identity", "gzip"):
            headers = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": encoding}
            refusals[encoding] = server.client.get("/api/v1/tasks/any-task", headers=headers)
            assert refusals[encoding].status_code == 429 and refusals[encoding].json()["code"] == "Throttling"
            assert (refusals[encoding].headers.get("content-encoding") == "gzip") == (encoding == "gzip")
        assert server.submit(key=KEY).status_code == 429
        check_raw_refusals(host, int(port))
        download = server.client.get("/dashscope-result-bj/1d/ab/20261201/whatever.png")
        assert download.status_code == 503 and download.headers["server"] == "AliyunOSS"
        assert "<Code>ActiveRequestLimitExceeded</Code>" in download.text
        assert "<Message>Max active request limit is exceeded.</Message>" in download.text
        assert f"<RequestId>{download.headers['x-oss-request-id']}</RequestId>" in download.text
        assert server.client.get("/__mock/health").json()["status"] == "ok"  # the control plane is served
        extra.close()

        held.sendall(body[10:])  # the held submit completes normally
        answer = held.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    finally:
        held.close()
    deadline = time.monotonic() + 10
    while in_flight(server) > 1:  # the closed connection's request ends
        assert time.monotonic() < deadline
    assert served_soon(server, waited)  # below the limit again
    for encoding, refused in refusals.items():  # the headers, in the order the general path sends them
        assert names(refused) == names(general_throttling(server.url, encoding)), encoding
    # Counted in the metrics (3 polls, 1 submit, 1 download; and the raw ones: 3 polls, 1 download; and any poll
    # refused while the test waited for the scrape before it to end), never journaled: a flood must not evict
    # what was served.
    assert metric(server, 'dashscope_mock_overload_refusals_total{route="query"}') == 6 + len(waited)
    assert metric(server, 'dashscope_mock_overload_refusals_total{route="submit"}') == 1
    assert metric(server, 'dashscope_mock_overload_refusals_total{route="download"}') == 2
    assert metric(server, 'dashscope_mock_throttled_total{account="none",reason="Throttling"}') == metric(
        server, 'dashscope_mock_overload_refusals_total{route="query"}') + 1
    journaled = server.client.get("/__mock/requests", params={"code": "Throttling"}).json()["requests"]
    assert [entry["fault"] for entry in journaled] == ["http:Throttling", "http:Throttling"]  # the directives' only


def raw(sock: socket.socket, request: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Send one request; read one answer: its status line, header names in order, body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length and not request.startswith(b"HEAD"):
        body += sock.recv(65536)
    return lines[0], [line.split(b":")[0] for line in lines[1:]], body


def check_raw_refusals(host: str, port: int) -> None:
    """Plain GETs are refused without the HTTP parser, others with it: the same bytes either way, kept alive."""
    with socket.create_connection((host, port)) as sock:
        auth = f"Host: {host}\r\nAuthorization: Bearer {KEY}\r\n".encode()
        plain = raw(sock, b"GET /api/v1/tasks/any-task HTTP/1.1\r\n" + auth + b"\r\n")
        parsed = raw(sock, b"GET /api/v1/tasks/any%2Dtask HTTP/1.1\r\n" + auth + b"\r\n")  # escaped: the parser's way
        for status, names, body in (plain, parsed):
            assert status == b"HTTP/1.1 429 Too Many Requests"
            assert json.loads(body)["message"] == "Requests throttling triggered."
        assert plain[1] == parsed[1]
        status, names, body = raw(sock, b"HEAD /dashscope-result-bj/x.png HTTP/1.1\r\n" + auth + b"\r\n")
        assert status == b"HTTP/1.1 503 Service Unavailable" and body == b"" and b"x-oss-ec" in names
        status, names, _ = raw(sock, b"GET /api/v1/tasks/t HTTP/1.1\r\n" + auth + b"Connection: close\r\n\r\n")
        assert status.endswith(b"429 Too Many Requests") and names[-1] == b"connection"
        assert sock.recv(100) == b""  # closed, as asked


def general_throttling(url: str, encoding: str):
    """The general path's 429 Throttling on a server below its limit: a fault directive asks for it."""
    import httpx

    headers = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": encoding, "X-Mock-Directive": "http=Throttling"}
    answer = httpx.get(f"{url}/api/v1/tasks/any-task", headers=headers)
    assert answer.status_code == 429 and answer.json()["code"] == "Throttling"
    return answer



def test_the_readme_configuration_example_loads(tmp_path):
    from pathlib import Path

    from mockserver.settings.config import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Configuration file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mock.yaml").write_text(block)
    settings = Settings.from_file(tmp_path / "mock.yaml")
    assert settings.max_in_flight == 256 and settings.accounts[0].id == "team-a"


def test_past_max_renders_in_flight_a_download_that_needs_a_render_is_refused(make_server):
    import httpx

    server = make_server(max_renders_in_flight=2)
    task_id = server.submit(key=KEY, parameters={"n": 2}).json()["output"]["task_id"]
    server.advance(3600)
    cached, fresh = [result["url"] for result in server.query(task_id, key=KEY).json()["output"]["results"]]
    assert httpx.get(cached).status_code == 200  # rendered once, now in the cache
    server.emulator.images.rendering = 2  # two downloads waiting for their renders, as a burst of them leaves it
    try:
        refused = httpx.get(fresh)
        assert refused.status_code == 503 and refused.headers["server"] == "AliyunOSS"
        assert refused.headers["x-oss-ec"] == "0002-00000503"
        assert "<Code>ActiveRequestLimitExceeded</Code>" in refused.text
        assert httpx.get(cached).status_code == 200  # a cached image costs no render: still served
    finally:
        server.emulator.images.rendering = 0
    assert httpx.get(fresh).status_code == 200
    downloads = server.client.get("/__mock/requests", params={"route": "download"}).json()["requests"]
    assert [entry["status"] for entry in downloads] == [200, 503, 200, 200]
