"""The overload guard on a live server: past max_in_flight, DashScope's routes answer 429 Throttling at once;
the control plane (health too) is still served."""

from __future__ import annotations

import json
import socket
import time

KEY = "sk-overload"
SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"


def in_flight(server) -> float:
    for line in server.client.get("/__mock/metrics").text.splitlines():
        if line.startswith("dashscope_mock_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no in-flight gauge")


def test_past_the_limit_api_routes_get_429_and_health_still_answers(make_server):
    server = make_server(max_in_flight=2)
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

        refused = server.query("any-task", key=KEY)  # the held submit and this one: 2, and 2 is the most
        assert refused.status_code == 200
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
        assert server.submit(key=KEY).status_code == 429
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
    assert server.query("any-task", key=KEY).status_code == 200  # below the limit again
    refusals = server.client.get("/__mock/requests", params={"code": "Throttling"}).json()["requests"]
    assert [(entry["route"], entry["status"]) for entry in refusals] == [("query", 429), ("submit", 429)]



def test_the_readme_configuration_example_loads(tmp_path):
    from pathlib import Path

    from mockserver.settings.config import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Configuration file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mock.yaml").write_text(block)
    settings = Settings.from_file(tmp_path / "mock.yaml")
    assert settings.max_in_flight == 256 and settings.accounts[0].id == "team-a"
