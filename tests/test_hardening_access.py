"""Attacks of issue 11 on who may reach what: the control plane from browsers, rebinding names, forwarded
headers and IPv4 over a dual-stack socket; the input fetcher towards cloud metadata addresses (SSRF); markup
in an upload's answer. Made on the real server on loopback; after each, the server still answers
``/__mock/health`` and a task submitted before the attack is intact.

SSRF cases use only addresses the policy refuses before connecting, and a socket audit hook proves no
connection to them was tried.
"""

from __future__ import annotations

import socket
import sys
import threading
import xml.etree.ElementTree as ElementTree

import httpx
import pytest

from hardening import address, earlier, exchange, finished, intact, read_all, request, submit_raw


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

# -- 9. the smaller ones: markup in an upload's answer -----------------------------------------------


def test_an_uploaded_keys_markup_is_escaped_in_the_201_answer(server):
    from test_uploads import png, upload

    before = earlier(server)
    created, key = upload(server, png(), name="a<b>&c.png", success_action_status="201")
    assert created.status_code == 201
    assert ElementTree.fromstring(created.content).findtext("Key") == key
    intact(server, before)
