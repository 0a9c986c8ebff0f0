"""What the hardening tests (``tests/test_hardening_*.py``, the attacks of issue 11) share: a task submitted
before an attack and the check that it came through intact, raw HTTP over a socket, and a submit that is
let run to its end.
"""

from __future__ import annotations

import socket

import httpx

from mockserver.catalog import default_catalog
from serving import LiveServer

CATALOG = default_catalog()


def earlier(server: LiveServer) -> tuple[str, dict]:
    """A task submitted before the attack, and how it reads."""
    task_id = server.submit(parameters={"n": 1}).json()["output"]["task_id"]
    return task_id, server.query(task_id).json()["output"]


def intact(server: LiveServer, before: tuple[str, dict]) -> None:
    """The server answers its health probe and the earlier task reads as it did (the clock may have moved)."""
    health = httpx.get(f"{server.url}/__mock/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    task_id, output = before
    now = server.query(task_id).json()["output"]
    assert now["task_id"] == task_id and now["task_status"] in ("PENDING", "RUNNING", "SUCCEEDED")
    assert now["submit_time"] == output["submit_time"]


def address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host.strip("[]"), int(port)


def exchange(server: LiveServer, data: bytes, *, source: str | None = None, timeout: float = 10) -> bytes:
    """Send raw bytes and read until the server closes (or ``timeout`` passes: then what came so far)."""
    with socket.create_connection(address(server), timeout=timeout,
                                  source_address=(source, 0) if source else None) as sock:
        sock.sendall(data)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks)


def one_response(sock: socket.socket) -> bytes:
    """One whole response on a kept-alive connection (it has a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def request(method: str, path: str, body: bytes = b"", host: str = "127.0.0.1", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def submit_head(length: int, **headers: str) -> bytes:
    """A wanx-v1 submit's request head that declares ``length`` body bytes."""
    head = request("POST", f"/api/v1{CATALOG.models['wanx-v1'].route.path}", Authorization="Bearer sk-test",
                   X_DashScope_Async="enable", Content_Type="application/json", **headers)
    return head.replace(b"Content-Length: 0", f"Content-Length: {length}".encode())


def submit_raw(server: LiveServer, model: str, body: dict) -> httpx.Response:
    entry = CATALOG.models[model]
    return server.client.post(f"/api/v1{entry.route.path}", json={"model": model, **body},
                              headers={"Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"})


def finished(server: LiveServer, response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    server.advance(3600)
    return server.query(response.json()["output"]["task_id"]).json()
