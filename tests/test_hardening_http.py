"""Attacks of issue 11 on the HTTP layer (connections past the cap, slow headers and bodies, log floods, a
client leaving mid-body, a wrong method), made on the real server on loopback; after each, the server
still answers ``/__mock/health`` and a task submitted before the attack is intact.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from hardening import address, earlier, exchange, intact, one_response, read_all, request, submit_head
from mockserver.server import connections


# -- 3. connections, slow headers and bodies, log floods ----------------------------------------


def test_connections_past_the_cap_are_refused_and_the_server_recovers(make_server):
    server = make_server(max_connections=8, header_timeout_seconds=60)
    before = earlier(server)
    held = [socket.create_connection(address(server), timeout=10) for _ in range(8)]
    try:
        extra = [socket.create_connection(address(server), timeout=10) for _ in range(8)]
        answers = [read_all(sock) for sock in extra]  # each is answered and closed, not left hanging
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers), answers
        for sock in extra:
            sock.close()
    finally:
        for sock in held:
            sock.close()
    intact(server, before)


def test_a_connection_that_never_finishes_its_headers_is_closed(make_server):
    server = make_server(header_timeout_seconds=0.2)
    before = earlier(server)
    assert exchange(server, b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ") == b""
    assert exchange(server, b"") == b""  # a connection that sends nothing at all
    with socket.create_connection(address(server), timeout=10) as sock:  # a kept-alive one, between requests
        sock.sendall(b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert one_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /__mock/health HTTP/1.1\r\n")
        assert read_all(sock) == b""
    intact(server, before)


def test_a_slow_drip_body_gets_a_408_and_the_connection_closes(make_server):
    server = make_server(body_timeout_seconds=0.2)
    before = earlier(server)
    answer = exchange(server, submit_head(1000) + b'{"model": ')  # and nothing more
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "RequestTimeOut"
    intact(server, before)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_repeated_errors_are_logged_a_few_times_not_once_each(server):
    before = earlier(server)
    uvicorn_log = logging.getLogger("uvicorn.error")  # where uvicorn reports each malformed request
    records = Records()
    uvicorn_log.addHandler(records)  # on the logger itself: its filter runs before its handlers
    connections.quiet_repeats()  # (installed when the server started) counting afresh:
    next(f for f in uvicorn_log.filters if isinstance(f, connections.RepeatFilter)).clear()
    try:
        for _ in range(30):
            assert exchange(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    finally:
        uvicorn_log.removeHandler(records)
    invalid = [record for record in records.records if "Invalid HTTP request" in record.getMessage()]
    assert 1 <= len(invalid) <= 3  # the filter's burst, of 30
    intact(server, before)

# -- 9. the smaller ones: a wrong method, a client that leaves -------------------------------------


def test_a_wrong_method_names_every_method_the_path_serves(server):
    answer = server.client.request("OPTIONS", "/api/v1/fine-tunes", headers={"Authorization": "Bearer sk-test"})
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize("path", ["/api/v1/services/aigc/text2image/image-synthesis", "/api/v1/fine-tunes",
                                  "/__mock/faults"])
def test_a_client_that_leaves_mid_body_is_no_server_error(server, path):
    before = earlier(server)
    records = Records()
    mockserver_log = logging.getLogger("mockserver")
    level = mockserver_log.level
    mockserver_log.addHandler(records)
    mockserver_log.setLevel(logging.DEBUG)
    head = request("POST", path, Authorization="Bearer sk-test", X_DashScope_Async="enable",
                   Content_Type="application/json")
    try:
        with socket.create_connection(address(server)) as sock:
            sock.sendall(head.replace(b"Content-Length: 0", b"Content-Length: 1000") + b'{"model": ')
        deadline = time.monotonic() + 10
        while not any("client left" in record.getMessage() for record in records.records):
            assert time.monotonic() < deadline, "the server never saw the client leave"
        intact(server, before)
    finally:
        mockserver_log.removeHandler(records)
        mockserver_log.setLevel(level)
    assert not [record for record in records.records if record.levelno >= logging.ERROR]  # no "unexpected error"
