"""An answer leaves in one write: the head waits for the body, and nothing is lost or reordered."""

from __future__ import annotations

import socket

from mockserver.server.onewrite import JOIN_LIMIT, HeldHead

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Transport:
    """What the socket would get: each write as one chunk."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_the_head_goes_out_with_the_body():
    transport = Transport()
    held = HeldHead(transport)
    held.write(HEAD)
    assert transport.writes == []
    held.write(b"{}")
    held.write(b"more")  # a streamed body's next chunk goes straight on
    assert transport.writes == [HEAD + b"{}", b"more"]


def test_a_big_body_follows_in_a_write_of_its_own():
    transport = Transport()
    held = HeldHead(transport)
    held.write(HEAD)
    big = b"x" * (JOIN_LIMIT + 1)
    held.write(big)
    assert transport.writes == [HEAD, big]


def test_a_head_without_a_body_is_released_or_flushed_at_close():
    transport = Transport()
    held = HeldHead(transport)
    held.write(b"HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n")
    held.release()
    held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    held.close()
    assert transport.writes == [b"HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"]
    assert held.is_closing()  # everything else is the transport's own


def test_interim_answers_and_whole_answers_are_never_held():
    transport = Transport()
    held = HeldHead(transport)
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it before it sends the body
    held.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad")
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad"]


def _read_until(sock: socket.socket, done) -> bytes:
    data = b""
    while not done(data):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_a_live_server_answers_pipelined_requests_whole_and_in_order(live):
    """A poll and a HEAD (a head with no body: released at its end, else it would wait for the next answer)
    sent at once on one connection; then another poll on the same connection."""
    host = live.base_url.split("//")[1].split("/")[0]
    task_id = live.submit().json()["output"]["task_id"].encode()
    poll = f"GET /api/v1/tasks/{task_id.decode()} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer sk-test\r\n\r\n".encode()
    head = f"HEAD /__mock/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(poll + head)
        first = _read_until(sock, lambda data: data.count(b"HTTP/1.1 ") == 2 and data.endswith(b"\r\n\r\n"))
        sock.sendall(poll)
        second = _read_until(sock, lambda data: data.endswith(b"}"))
    answers = first.split(b"HTTP/1.1 ")[1:] + [second.removeprefix(b"HTTP/1.1 ")]
    assert [answer[:3] for answer in answers] == [b"200", b"200", b"200"]
    assert answers[0].endswith(b"}") and task_id in answers[0] and task_id in answers[2]
