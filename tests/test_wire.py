"""Polls answered at the socket (``mockserver.server.wire``), over a real connection to a live server.

The bytes themselves are pinned against the ASGI paths in ``test_fastpath.py``;
here: what the connection does around them (keep-alive, ``Connection: close``,
pipelining, requests split over packets, the journal), and that everything
else still goes uvicorn's way.
"""

from __future__ import annotations

import socket
import time

from serving import LiveServer

from mockserver.server.wire import whole_request

KEY = "sk-wire"


def netloc(server: LiveServer) -> str:
    return server.base_url.split("//")[1].split("/")[0]


def connect(server: LiveServer) -> socket.socket:
    host, port = netloc(server).rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each send its own packet, as a client's request
    return sock


def poll_bytes(server: LiveServer, task_id: str, *extra: str) -> bytes:
    host = netloc(server)
    lines = [f"GET /api/v1/tasks/{task_id} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {KEY}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answers(sock: socket.socket, count: int) -> list[bytes]:
    """Read ``count`` whole answers (each framed by its content-length) off ``sock``."""
    data, read = b"", []
    while len(read) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].lower()
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(data) >= head_end + 4 + length:
                read.append(data[: head_end + 4 + length])
                data = data[head_end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {len(read)} answers"
        data += chunk
    assert data == b"", "more bytes than the answers"
    return read


def submitted(server: LiveServer) -> str:
    return server.submit(key=KEY).json()["output"]["task_id"]


def test_polls_on_a_kept_alive_connection_are_answered_one_by_one(make_server):
    server = make_server(requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        for _ in range(50):
            sock.sendall(poll_bytes(server, task_id))
            (answer,) = answers(sock, 1)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and task_id.encode() in answer
            assert b"connection: close" not in answer.lower()
    polls = server.client.get("/__mock/requests", params={"route": "query"}).json()["requests"]
    assert len(polls) == 50 and {entry["status"] for entry in polls} == {200}  # each journaled once
    assert {entry["task_status"] for entry in polls} == {"PENDING"}


def test_connection_close_is_answered_and_honoured(make_server):
    server = make_server()
    task_id = submitted(server)
    with connect(server) as sock:
        sock.sendall(poll_bytes(server, task_id, "Connection: close"))
        (answer,) = answers(sock, 1)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nconnection: close\r\n" in answer
        assert sock.recv(65536) == b""  # and closed


def test_a_poll_split_over_packets_and_pipelined_polls_are_answered_in_order(make_server):
    server = make_server(requests_per_second=1000)
    task_id = submitted(server)
    poll = poll_bytes(server, task_id)
    with connect(server) as sock:
        sock.sendall(poll[:20])
        time.sleep(0.05)  # so the server reads the first part on its own (not waiting for any task)
        sock.sendall(poll[20:])
        assert answers(sock, 1)[0].startswith(b"HTTP/1.1 200 OK\r\n")
        sock.sendall(poll + poll_bytes(server, "no-such-task") + poll)
        statuses = [answer.split(b'"task_status":"', 1)[1].split(b'"')[0] for answer in answers(sock, 3)]
    assert statuses == [b"PENDING", b"UNKNOWN", b"PENDING"]  # in the order asked


def test_a_request_the_parser_has_begun_gets_the_next_bytes_even_when_they_look_whole(make_server):
    """Half a request's headers, then bytes that would be a whole poll on their own: they are the rest of the
    first request (a header of it), not a request of their own."""
    server = make_server(requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        sock.sendall(b"GET /api/v1/tasks/first-half HTTP/1.1\r\nX-Note: ")
        time.sleep(0.1)  # so the server reads the half on its own (not waiting for any task)
        sock.sendall(poll_bytes(server, task_id))
        (answer,) = answers(sock, 1)
    assert b'"task_id":"first-half"' in answer and task_id.encode() not in answer


def test_a_long_pipeline_behind_a_submit_is_answered_whole(make_server):
    """A submit (served by an ASGI task) with 3,000 polls queued behind it in the same packets: each poll the
    submit's end starts goes the ASGI way, so none is answered inside another's end (no recursion)."""
    server = make_server(requests_per_second=100_000)
    task_id = submitted(server)
    host = netloc(server)
    body = b'{"model":"wanx-v1","input":{"prompt":"a cat"}}'
    submit = (f"POST /api/v1/services/aigc/text2image/image-synthesis HTTP/1.1\r\nHost: {host}\r\n"
              f"Authorization: Bearer {KEY}\r\nX-DashScope-Async: enable\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with connect(server) as sock:
        sock.sendall(submit + poll_bytes(server, task_id) * 3000)
        read = answers(sock, 3001)
    assert [answer[9:12] for answer in read] == [b"200"] * 3001
    assert b'"task_status":"PENDING"' in read[0] and all(task_id.encode() in answer for answer in read[1:])
    assert server.client.get("/__mock/health").status_code == 200


def test_a_kept_alive_connection_lives_on_past_the_keep_alive_time_of_its_first_answer(make_server):
    """Each answer at the socket starts the keep-alive time afresh (the timer of the first does not close it)."""
    server = make_server(keep_alive_seconds=2, requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        for _ in range(3):  # 2.4 s in all: past the first answer's 2 s
            sock.sendall(poll_bytes(server, task_id))
            assert answers(sock, 1)[0].startswith(b"HTTP/1.1 200 OK\r\n")
            time.sleep(1.2)  # a connection's idle time, not a wait for a task


def test_after_an_asgi_answer_answers_at_the_socket_keep_the_connection_alive_too(make_server):
    """uvicorn's own timer, armed by an answer that went its way, gives way to the socket's (which counts from the
    last answer) at the next answer at the socket: the connection is not closed 2 s after the HEAD."""
    server = make_server(keep_alive_seconds=2, requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        head = poll_bytes(server, task_id).replace(b"GET ", b"HEAD ", 1)  # HEAD goes uvicorn's way
        sock.sendall(head)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        for _ in range(3):  # 3.6 s in all: past the HEAD answer's 2 s
            time.sleep(1.2)  # a connection's idle time, not a wait for a task
            sock.sendall(poll_bytes(server, task_id))
            assert answers(sock, 1)[0].startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_idle_connection_is_closed_keep_alive_seconds_after_its_last_answer(make_server):
    server = make_server(keep_alive_seconds=1, requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(poll_bytes(server, task_id))
            assert answers(sock, 1)[0].startswith(b"HTTP/1.1 200 OK\r\n")
            time.sleep(0.6)  # idle, but less than the keep-alive time: the next answer counts afresh
        answered = time.monotonic() - 0.6
        sock.settimeout(10)
        assert sock.recv(65536) == b""  # closed by the server, not by this test's timeout
        assert time.monotonic() - answered >= 0.9  # and not before its keep-alive time


def test_whatever_is_not_a_plain_poll_goes_uvicorns_way(make_server):
    """HEAD, a percent-escaped path, a fault directive, a bad header and a fault rule: each answered as the ASGI
    paths (or the parser) answer them."""
    server = make_server(requests_per_second=1000)
    task_id = submitted(server)
    with connect(server) as sock:
        sock.sendall(poll_bytes(server, task_id).replace(b"GET ", b"HEAD ", 1))
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")  # no body
        first = task_id[0].encode()
        escaped = poll_bytes(server, task_id).replace(b"/tasks/" + first, b"/tasks/%" + first.hex().encode(), 1)
        sock.sendall(escaped)
        assert task_id.encode() in answers(sock, 1)[0]
        sock.sendall(poll_bytes(server, task_id, "X-Mock-Directive: http=InternalError"))
        assert answers(sock, 1)[0].startswith(b"HTTP/1.1 500 ")
    with connect(server) as sock:  # a header line the parser refuses is refused as ever: 400, and closed
        sock.sendall(poll_bytes(server, task_id, "Bad Name: 1"))
        assert answers(sock, 1)[0].startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert sock.recv(65536) == b""
    rule = {"match": {"route": "query"}, "http": {"code": "InternalError"}, "count": 1}
    assert server.client.post("/__mock/faults", json=rule).status_code in (200, 201)
    assert server.query(task_id, key=KEY).status_code == 500
    assert server.query(task_id, key=KEY).status_code == 200
    polls = server.client.get("/__mock/requests", params={"route": "query"}).json()["requests"]
    # the HEAD is not a DashScope route's request (it goes unjournaled, as ever); the rest are, once each
    assert [entry["fault"] for entry in polls] == [None, "http:InternalError", "http:InternalError", None]


def submit_bytes(server: LiveServer, body: bytes, *extra: str, chunked: bool = False) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    lines = ["POST /api/v1/services/aigc/text2image/image-synthesis HTTP/1.1", f"Host: {netloc(server)}",
             f"Authorization: Bearer {KEY}", "X-DashScope-Async: enable", "Content-Type: application/json", framing, *extra]
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_submits_whole_split_or_chunked_are_each_accepted_once(make_server):
    server = make_server()
    body = b'{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":1}}'
    with connect(server) as sock:
        sock.sendall(submit_bytes(server, body))  # one read: answered at the socket
        first = answers(sock, 1)[0]
        server.client.post("/__mock/clock/advance", json={"seconds": 1})  # the per-second submit limit
        whole = submit_bytes(server, body)
        sock.sendall(whole[:-10])
        time.sleep(0.05)  # so the server reads the head and part of the body on their own (not waiting for a task)
        sock.sendall(whole[-10:])
        second = answers(sock, 1)[0]
    server.client.post("/__mock/clock/advance", json={"seconds": 1})
    with connect(server) as sock:
        sock.sendall(submit_bytes(server, body, chunked=True))  # no length: the parser's
        third = answers(sock, 1)[0]
    task_ids = [answer.split(b'"task_id":"', 1)[1].split(b'"')[0].decode() for answer in (first, second, third)]
    assert len(set(task_ids)) == 3 and all(answer.startswith(b"HTTP/1.1 200 OK\r\n") for answer in (first, second, third))
    submits = server.client.get("/__mock/requests", params={"route": "submit"}).json()["requests"]
    assert [entry["task_id"] for entry in submits] == task_ids  # each journaled once, in order
    assert all(server.query(task_id, key=KEY).json()["output"]["task_status"] != "UNKNOWN" for task_id in task_ids)


def test_a_header_block_read_before_is_read_alike_and_each_request_gets_its_own_list():
    """Header lines are read once per distinct block (``wire._BLOCKS``): a repeat gives the same scope, in a list
    of its own; a block that differs in any byte (here only ``Connection: close``) is read for itself."""
    base = {"type": "http", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2), "scheme": "http", "root_path": ""}
    body = b'{"model":"wanx-v1"}'
    request = (b"POST /api/v1/services/aigc/text2image/image-synthesis HTTP/1.1\r\nHost: h\r\nAuthorization:  Bearer k \r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    first, again = whole_request(request, base), whole_request(request, base)
    assert first == again and first[1] == body and first[2] is True
    assert first[0]["headers"] == [(b"host", b"h"), (b"authorization", b"Bearer k"), (b"content-length", b"19")]
    first[0]["headers"].append((b"x-added", b"by an app"))
    assert whole_request(request, base)[0]["headers"] == again[0]["headers"] != first[0]["headers"]
    closing = request.replace(b"Host: h\r\n", b"Host: h\r\nConnection: close\r\n")
    assert whole_request(closing, base)[2] is False and whole_request(request, base)[2] is True
    assert whole_request(request[:-1], base) is None  # the same block, a body one byte short: not whole
    assert whole_request(request.replace(b"Content-Length: 19", b"Content-Length: " + b"9" * 5000), base) is None


def test_the_header_blocks_kept_are_bounded_in_number_and_size():
    """Clients making up headers cannot grow the memo: at most ``_BLOCKS_KEPT`` blocks, none over
    ``_BLOCK_KEPT_BYTES``; a block read is read alike whether it was kept or not."""
    from mockserver.server import wire

    base = {"type": "http", "server": None, "client": None, "scheme": "http", "root_path": ""}
    for number in range(3 * wire._BLOCKS_KEPT):
        assert whole_request(b"GET / HTTP/1.1\r\nX-Trace: %d\r\n\r\n" % number, base) is not None
        assert len(wire._BLOCKS) <= wire._BLOCKS_KEPT
    wire._BLOCKS.clear()
    big = b"GET / HTTP/1.1\r\nX-Big: " + b"b" * wire._BLOCK_KEPT_BYTES + b"\r\n\r\n"
    assert whole_request(big, base)[0]["headers"] == [(b"x-big", b"b" * wire._BLOCK_KEPT_BYTES)]
    assert wire._BLOCKS == {}


def test_a_content_length_of_thousands_of_digits_is_the_parsers_to_refuse(make_server):
    server = make_server()
    with connect(server) as sock:
        sock.sendall(submit_bytes(server, b"{}").replace(b"Content-Length: 2", b"Content-Length: " + b"9" * 5000))
        assert answers(sock, 1)[0].startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.client.get("/__mock/health").status_code == 200


class _Socket:
    """What uvicorn's request cycle writes (its transport), collected."""

    def __init__(self) -> None:
        self.data, self.closed = b"", False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _uvicorn_writes(status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool,
                    method: str = "GET") -> tuple[bytes, bool]:
    """What uvicorn's httptools request cycle writes for this answer, and whether it keeps the connection."""
    import asyncio
    import logging

    from uvicorn.protocols.http.flow_control import FlowControl
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    sock = _Socket()
    scope = {"type": "http", "method": method, "http_version": "1.1", "path": "/", "query_string": b"", "headers": []}
    cycle = RequestResponseCycle(scope, sock, FlowControl(sock), logging.getLogger("t"), logging.getLogger("t"), False,
                                 [], asyncio.Event(), False, keep_alive, lambda: None)

    async def answer() -> None:
        await cycle.send({"type": "http.response.start", "status": status, "headers": headers})
        await cycle.send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    asyncio.run(answer())
    return sock.data, not sock.closed


def test_answers_at_the_socket_are_the_bytes_uvicorn_writes():
    from mockserver.server.wire import http_bytes

    json_headers = [(b"content-length", b"2"), (b"content-type", b"application/json"), (b"x-request-id", b"r-1")]
    cases = [
        (200, json_headers, b"{}", True, "GET"),
        (200, json_headers, b"{}", False, "GET"),  # the request said Connection: close
        (429, json_headers, b"{}", True, "GET"),
        (503, [*json_headers, (b"connection", b"close")], b"{}", True, "GET"),  # the answer closes it
        (200, [*json_headers, (b"connection", b"keep-alive")], b"{}", False, "GET"),
        (200, json_headers, b"{}", True, "HEAD"),
        (299, [(b"content-length", b"0")], b"", True, "GET"),  # a status without a phrase
    ]
    for status, headers, body, keep_alive, method in cases:
        assert http_bytes(status, headers, body, keep_alive, head=method == "HEAD") == \
            _uvicorn_writes(status, headers, body, keep_alive, method), (status, headers, keep_alive, method)
