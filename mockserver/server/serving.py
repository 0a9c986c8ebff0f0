"""Running the app on uvicorn: the listening socket, the server's settings, and a server in a thread.

The command line and the testing API both serve through here, so both get the
same socket (one that says it is TCP) and the same server settings.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from ..settings.config import Settings
from . import connections


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket on ``host:port`` (0 picks a free port).

    IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they
    are TCP, and without it Nagle and delayed ACKs cost every keep-alive
    request ~40 ms. Listening at once lets early clients wait in the backlog. ``::`` is dual-stack
    whatever the system's default, so IPv4 loopback clients reach it (and count as loopback).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host.strip("[]") == "::":
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # ``::`` serves IPv4 clients too
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket, with IPv6 hosts in brackets."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def config(app: ASGIApp, settings: Settings, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's settings: no access log (the emulator logs requests itself), and neither a ``server``
    header nor a ``date`` of uvicorn's own: the gateway sends both, the date on the emulator's clock.
    The HTTP protocol is uvicorn's own, bounded; it refuses what the overload guard refuses, and lets the fast
    path answer plain polls, before any ASGI task exists (:mod:`mockserver.server.connections`)."""
    connections.quiet_repeats()
    state = getattr(app, "state", None)
    guard, fast = getattr(state, "overload", None), getattr(state, "fastpath", None)
    protocol = connections.bounded_protocol(connections.fd_capped(settings.max_connections), settings.header_timeout_seconds,
                                            guard, fast)
    return uvicorn.Config(
        app, http=protocol, log_level=log_level, access_log=False, server_header=False, date_header=False,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


def watch(app: ASGIApp, server: uvicorn.Server) -> uvicorn.Server:
    """Let the app's overload guard count the requests ``server`` has read and not answered yet."""
    guard = getattr(getattr(app, "state", None), "overload", None)
    if guard is not None:
        guard.pending = lambda: len(server.server_state.tasks)
    return server


class Background:
    """uvicorn serving ``app`` on ``sock`` in a daemon thread, for tests and embedding."""

    def __init__(self, app: ASGIApp, sock: socket.socket, settings: Settings) -> None:
        self._server = watch(app, uvicorn.Server(config(app, settings)))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # start-up only: nothing else in the suite waits on wall time
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the DashScope emulator did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
