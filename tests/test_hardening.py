"""Each attack of issue 11, made on the real server on loopback; after each, the server still answers
``/__mock/health`` and a task submitted before the attack is intact.

Memory bounds are measured in ``load/bench_memory.py``, not here. SSRF cases use only addresses the
policy refuses before connecting, and a socket audit hook proves no connection to them was tried.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree

import httpx
import pytest
from PIL import Image

from mockserver.server import connections
from mockserver.catalog import default_catalog
from mockserver.catalog.schema import ModelEntry
from serving import LiveServer

CATALOG = default_catalog()


# -- helpers -------------------------------------------------------------------------------------


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


# -- 1. unbounded n --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["flux-dev", "image-out-painting", "wanx-style-repaint-v1"])
def test_a_million_images_are_never_planned(server, model):
    before = earlier(server)
    example = CATALOG.models[model].example
    body = {**example, "parameters": {**example.get("parameters", {}), "n": 1_000_000}}
    answer = finished(server, submit_raw(server, model, body))
    assert answer["output"]["task_status"] == "SUCCEEDED"
    assert answer["usage"]["image_count"] == 1  # the model's pages name no count: one image, whatever n says
    limits = server.client.get("/__mock/account", params={"key": "sk-test", "model": model}).json()
    assert limits["models"][model]["used"] == 1
    intact(server, before)


def test_a_bounded_model_fails_a_million_images(server):
    before = earlier(server)
    answer = finished(server, server.submit(parameters={"n": 1_000_000}))
    assert (answer["output"]["task_status"], answer["output"]["code"]) == ("FAILED", "InvalidParameter")
    intact(server, before)


def test_the_schema_refuses_an_entry_that_leaves_the_count_or_size_unbounded():
    entry = CATALOG.models["wanx-v1"].model_dump()
    unbounded_n = {**entry, "parameters": {**entry["parameters"], "n": {"type": "integer", "min": 1}}}
    no_rule = {**entry, "parameters": {k: v for k, v in entry["parameters"].items() if k != "n"}}
    free_size = {**entry, "parameters": {**entry["parameters"], "size": {"type": "string"}}}
    huge_side = {**entry, "parameters": {**entry["parameters"], "size": {"type": "size", "side": [1, 99999]}}}
    for broken, words in ((unbounded_n, "max"), (no_rule, "images_field"), (free_size, "type `size`"),
                          (huge_side, "pixels")):
        with pytest.raises(ValueError, match=words):
            ModelEntry.model_validate(broken)
    ModelEntry.model_validate({**no_rule, "images_field": None})  # one image a task: bounded


# -- 2. unbounded size ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["20000*20000", "99999*99999", "-5*-5", "0*0"])
def test_a_size_the_model_takes_no_rule_for_is_never_rendered(server, size):
    before = earlier(server)
    model = "wanx-style-repaint-v1"  # no size parameter on its page
    example = CATALOG.models[model].example
    answer = finished(server, submit_raw(server, model, {**example, "parameters": {"size": size}}))
    assert answer["output"]["task_status"] == "SUCCEEDED"
    image = httpx.get(answer["output"]["results"][0]["url"], timeout=30)
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)  # the placeholder's default
    intact(server, before)


@pytest.mark.parametrize("size", ["99999*99999", "20000*20000", "0*0", "-5*-5"])
def test_a_size_out_of_the_models_range_fails_the_task(server, size):
    before = earlier(server)
    answer = finished(server, submit_raw(server, "wan2.6-t2i", {**CATALOG.models["wan2.6-t2i"].example,
                                                                 "parameters": {"size": size}}))
    assert answer["output"]["task_status"] == "FAILED"
    intact(server, before)


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


# -- 4. memory amplification ---------------------------------------------------------------------


def test_an_over_limit_content_length_is_refused_before_the_body_and_instead_of_100_continue(make_server):
    server = make_server(max_body_bytes=1024)
    before = earlier(server)
    answer = exchange(server, submit_head(30_000_000, Expect="100-continue"))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # no "100 Continue" first
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "BadRequest.TooLarge"
    for route in ("/__mock/faults", "/api/v1/fine-tunes"):  # every body reader has the cap
        refused = server.client.post(route, content=b"[" + b" " * 4096 + b"]",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
        assert refused.status_code == 413
    intact(server, before)


def test_a_task_keeps_what_it_needs_not_its_body(server):
    before = earlier(server)
    padding = "x" * 1_000_000
    response = server.submit(input={"prompt": "a cat", "ref_img": "http://example.com/" + padding, "junk": padding},
                             parameters={"n": 1, "junk": [padding]})
    task_id = response.json()["output"]["task_id"]
    (task,) = [task for task in server.client.get("/__mock/state").json()["tasks"] if task["task_id"] == task_id]
    assert task["input"]["prompt"] == "a cat" and "junk" not in task["parameters"]  # a list: gone
    assert len(json.dumps(task)) < 16_384  # of a body of three megabytes, strings cut
    intact(server, before)


def test_keys_that_only_read_leave_no_state_behind(server):
    before = earlier(server)
    state = server.client.get("/__mock/state").json()
    for number in range(50):
        server.query("no-such-task", key=f"sk-visitor-{number}")
    after = server.client.get("/__mock/state").json()
    assert after["accounts"].keys() == state["accounts"].keys()
    intact(server, before)


def test_a_keys_queue_is_forgotten_with_its_tasks(server):
    server.submit(key="sk-once", parameters={"n": 1})
    server.advance(hours=49)
    store = server.emulator.store
    assert len(list(store.lanes())) == 1
    store.purge(server.emulator.clock.now() - 48 * 3600)  # what every 512th submit does
    assert list(store.lanes()) == [] and store.count() == 0


# -- 5. the control plane and browsers -------------------------------------------------------------


def test_cross_site_writes_to_the_control_plane_are_refused(server):
    before = earlier(server)
    evil = {"Origin": "http://evil.example"}
    forged = [
        server.client.post("/__mock/faults", content=b'{"fail": {"code": "InternalError"}}',
                           headers={"Content-Type": "text/plain", **evil}),
        server.client.post("/__mock/reset", content=b"{}", headers={"Content-Type": "text/plain"}),
        server.client.post("/__mock/reset", json={}, headers=evil),
        server.client.post("/__mock/reset", content=b"account=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    assert [response.status_code for response in forged] == [403, 415, 403, 415]
    assert all(response.json()["code"] in ("AccessDenied", "UnsupportedMediaType") for response in forged)
    assert server.client.get("/__mock/faults").json()["rules"] == []
    same_origin = server.client.post("/__mock/faults", json={"fail": {"code": "InternalError"}, "count": 1},
                                     headers={"Origin": server.url})
    assert same_origin.status_code == 200
    server.clear_faults()
    intact(server, before)


def test_a_rebinding_host_name_cannot_reach_the_control_plane(server):
    before = earlier(server)
    for host in ("evil.example", "evil.example:80", ""):
        answer = exchange(server, request("GET", "/__mock/state", host=host))
        assert answer.startswith((b"HTTP/1.1 403 ", b"HTTP/1.1 400 ")), answer[:100]
    for host in ("localhost", "127.0.0.1", f"127.0.0.1:{address(server)[1]}", "app.localhost"):
        assert exchange(server, request("GET", "/__mock/health", host=host)).startswith(b"HTTP/1.1 200 ")
    intact(server, before)


def _own_address() -> str | None:
    """This machine's address on its main interface (a UDP connect sends nothing), if not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        own = probe.getsockname()[0]
    return None if own.startswith("127.") else own


def test_admission_is_judged_on_the_socket_not_on_forwarded_headers(make_server, monkeypatch):
    own = _own_address()
    if own is None:
        pytest.skip("no non-loopback address on this machine")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn then trusts any client's X-Forwarded-For
    server = make_server(host="0.0.0.0")
    port = address(server)[1]
    before = earlier(server)
    # From this machine's own non-loopback address (the packets never leave it), claiming to be loopback:
    claim = request("GET", "/__mock/state", host=f"127.0.0.1:{port}", X_Forwarded_For="127.0.0.1")
    with socket.create_connection((own, port), timeout=10, source_address=(own, 0)) as sock:
        sock.sendall(claim)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 403 ") and b"url_secret" not in answer
    # And a loopback client whose forwarded header names another address is still loopback.
    forwarded = server.client.get("/__mock/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 200
    intact(server, before)


def test_a_dual_stack_server_counts_ipv4_loopback_clients_as_loopback(make_server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = make_server(host="::")
    except OSError:
        pytest.skip("cannot listen on ::")
    port = address(server)[1]
    health = httpx.get(f"http://127.0.0.1:{port}/__mock/health", timeout=5)
    assert health.status_code == 200


# -- 6. the clock ----------------------------------------------------------------------------------


def test_the_clock_cannot_be_moved_out_of_range(server):
    before = earlier(server)
    for path, body in (("/__mock/clock/advance", {"seconds": 1e300}), ("/__mock/clock/advance", {"seconds": 3e11}),
                       ("/__mock/clock/set", {"time": 1e300}), ("/__mock/clock/resume", {"rate": 1e300})):
        refused = server.client.post(path, json=body)
        assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter", (path, refused.text)
    server.freeze()
    state = server.client.get("/__mock/state").json()
    state["clock"]["now"] = 1e300
    assert server.client.put("/__mock/state", json=state).status_code == 400
    assert server.client.post("/__mock/clock/advance", json={"seconds": 60}).status_code == 200
    intact(server, before)
    assert server.client.post("/__mock/reset", json={}).status_code == 200


# -- 7. deep JSON ----------------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_as_bad_json_everywhere(server):
    before = earlier(server)
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = b'{"model": "wanx-v1", "input": {"prompt": "a"}, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"}
    path = f"/api/v1{CATALOG.models['wanx-v1'].route.path}"
    for body in (deep, nested):
        answer = server.client.post(path, content=body, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter", answer.text
        assert answer.json()["message"] == "Required body invalid, please check the request body format."
    journaled = server.client.get("/__mock/requests", params={"route": "submit", "status": 400}).json()
    assert journaled["total"] == 2
    for method, route in (("POST", "/__mock/reset"), ("POST", "/__mock/faults"), ("PUT", "/__mock/state"),
                          ("PATCH", "/__mock/account?key=sk-test"), ("POST", "/api/v1/fine-tunes")):
        answer = server.client.request(method, route, content=nested, headers=headers)
        assert answer.status_code == 400, (route, answer.status_code, answer.text)
    intact(server, before)


# -- 8. SSRF ----------------------------------------------------------------------------------------


class Connections:
    """Every outgoing ``connect`` this process tries (a socket audit hook: audit hooks cannot be removed,
    so one hook records while ``watching``)."""

    watching = threading.Event()
    seen: list[str] = []
    installed = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            def hook(event: str, args: tuple) -> None:
                if cls.watching.is_set() and event == "socket.connect":
                    target = args[1]
                    cls.seen.append(str(target[0]) if isinstance(target, tuple) else str(target))

            sys.addaudithook(hook)
            cls.installed = True


METADATA = ["100.100.100.200", "192.0.0.192", "168.63.129.16", "[::169.254.169.254]", "[64:ff9b::a9fe:a9fe]",
            "[2002:a9fe:a9fe::1]", "[::ffff:100.100.100.200]", "[fd20:ce::254]"]


@pytest.fixture
def fetching(make_server):
    from image_host import ImageHost

    Connections.install()
    host = ImageHost()
    server = make_server(fetch_inputs="any", fetch_connect_seconds=0.05, fetch_timeout_seconds=5)
    yield server, host
    host.close()


@pytest.mark.parametrize("target", METADATA)
def test_metadata_addresses_are_refused_before_any_connection(fetching, target):
    server, host = fetching
    before = earlier(server)
    Connections.seen.clear()
    Connections.watching.set()
    try:
        outputs = []
        for url in (f"http://{target}/latest/meta-data/", host.url(f"/redirect?to=http://{target}/")):
            response = submit_raw(server, "wanx-sketch-to-image-lite", {
                "input": {"prompt": "a house", "sketch_image_url": url}, "parameters": {"n": 1}})
            outputs.append((url, finished(server, response)["output"]))
    finally:
        Connections.watching.clear()
    for url, output in outputs:
        assert (output["task_status"], output["code"]) == ("FAILED", "InvalidURL.ConnectionRefused"), url
    assert all(seen in ("127.0.0.1",) for seen in Connections.seen), Connections.seen  # only the image host
    assert "/redirect" in " ".join(host.requested)
    intact(server, before)


def test_a_name_is_refused_when_it_resolves_to_a_metadata_address():
    from mockserver.inputs.policy import decide, literal

    for resolved in ("100.100.100.200", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"):  # as getaddrinfo gives them
        assert decide("metadata.example", [literal(resolved)], "any", False).action == "refuse"


# -- 9. the smaller ones -----------------------------------------------------------------------------


def test_an_uploaded_keys_markup_is_escaped_in_the_201_answer(server):
    from test_uploads import png, upload

    before = earlier(server)
    created, key = upload(server, png(), name="a<b>&c.png", success_action_status="201")
    assert created.status_code == 201
    assert ElementTree.fromstring(created.content).findtext("Key") == key
    intact(server, before)


def test_a_wrong_method_names_every_method_the_path_serves(server):
    answer = server.client.request("OPTIONS", "/api/v1/fine-tunes", headers={"Authorization": "Bearer sk-test"})
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD, POST"


def test_listing_reads_only_the_window(server):
    old = []
    for _ in range(3):
        old.append(server.submit(parameters={"n": 1}).json()["output"]["task_id"])
        server.advance(1)  # past the submit rate
    server.advance(hours=25)
    before = earlier(server)
    server.advance(1)
    new = server.submit(parameters={"n": 1}).json()["output"]["task_id"]
    listed = server.client.get("/api/v1/tasks", headers={"Authorization": "Bearer sk-test"}).json()
    assert [row["task_id"] for row in listed["data"]] == [new, before[0]] and listed["total"] == 2
    account = server.emulator.accounts.resolve("Bearer sk-test").id
    now = server.emulator.clock.now()
    window = list(server.emulator.store.account_tasks(account, now - 3600, now))
    assert [task.task_id for task in window] == [before[0], new] and not set(old) & {task.task_id for task in window}
    intact(server, before)


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
