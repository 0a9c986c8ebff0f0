"""An exception inside the answer at the socket (``server/connections.py``) is answered as uvicorn answers an app's.

The routes' own errors are the catalog's answers; this is the glue's last resort, so the test breaks the
answerer on purpose (the one place the suite replaces part of the emulator: nothing else can reach it).
"""

from __future__ import annotations

import logging
import socket

from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app
from mockserver.server.serving import Background, listen, url_of
from mockserver.settings.config import Settings

KEY = "sk-wire"
UVICORNS_500 = (b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


def exchange(url: str, request: bytes) -> bytes:
    """Send ``request`` on a new connection; read one answer (framed by its content-length), and then whatever
    else comes until the server closes the connection or stays quiet for a moment (kept alive)."""
    host, port = url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _framed(data):
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        sock.settimeout(0.2)
        try:
            data += sock.recv(65536)  # b"" once closed; nothing more on a kept-alive connection
        except TimeoutError:
            pass
    return data


def _framed(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return len(head) + 4 + length


def poll(url: str, task_id: str) -> bytes:
    host = url.split("//")[1]
    return f"GET /api/v1/tasks/{task_id} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode()


def test_an_exception_answering_at_the_socket_is_uvicorns_500_logged_and_the_server_goes_on(caplog):
    emulator = Emulator(Settings(clock="manual"))
    app = create_app(emulator=emulator)
    sock = listen("127.0.0.1", 0)
    url = url_of(sock)
    background = Background(app, sock, emulator.settings)
    try:
        fast = app.state.fastpath
        answers = fast.wire

        def broken(scope, body, keep_alive):
            if scope["method"] == "GET":
                raise RuntimeError("a bug in the answer at the socket")
            return answers(scope, body, keep_alive)

        fast.wire = broken
        body = b'{"model":"wanx-v1","input":{"prompt":"a cat"}}'
        submit = (f"POST /api/v1/services/aigc/text2image/image-synthesis HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {KEY}\r\nX-DashScope-Async: enable\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        answer = exchange(url, submit)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
        task_id = answer.split(b'"task_id":"')[1].split(b'"')[0].decode()

        with caplog.at_level(logging.ERROR):
            assert exchange(url, poll(url, task_id)) == UVICORNS_500  # and the connection closed
        logged = [record for record in caplog.records if "unexpected error answering GET" in record.getMessage()]
        assert logged and logged[0].exc_info is not None and "a bug in the answer" in str(logged[0].exc_info[1])

        fast.wire = answers  # mended: the same server answers the poll
        again = exchange(url, poll(url, task_id))
        assert again.startswith(b"HTTP/1.1 200 OK\r\n") and task_id.encode() in again
    finally:
        background.stop()
        emulator.close()
