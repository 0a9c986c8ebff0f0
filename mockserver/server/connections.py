"""Bounds per connection, below the ASGI app: how many at once, and how long a client may take to send headers.

uvicorn has a keep-alive timeout but none for a fresh (or reused) connection
whose request headers never finish, and no cap on open connections: 20,000
half-open sockets exhaust the file descriptors and every later client, health
probes included, is refused. So the HTTP protocol uvicorn would pick is
wrapped:

- past ``max_connections`` open ones, a new connection gets a 503 and is
  closed at once (the cost: one accept and one write, then its descriptor is free);
- a connection waiting for request headers longer than
  ``header_timeout_seconds`` is closed (the cost: one timer per connection
  while it waits for headers; none while a request runs);
- a request the overload guard refuses (:meth:`mockserver.http.overload.Overload.wire`)
  is answered here, before uvicorn makes an ASGI task for it: a whole
  bodyless ``GET``/``HEAD`` alone in what the socket gave without the HTTP
  parser at all (what clients poll and download with), anything else the
  moment the parser has its headers. A refusal must cost far less than the
  answer it saves (with the h11 protocol, which has no task hook, the guard's
  ASGI layer refuses the rest);
- a whole poll, download or submit the app's fast path answers synchronously
  (:meth:`mockserver.http.fastpath.FastPath.wire`) is answered the same way,
  at the socket: see :mod:`.wire`. A pipelined request that the end of an
  ASGI answer starts goes the ASGI way, so answers never nest.

Each answer also leaves in one write (:mod:`.onewrite`).

The body's own time is bounded where it is read (:mod:`mockserver.support.streams`).
Repeated log lines (``Too many open files``, invalid requests) are
rate-limited by :class:`RepeatFilter`, so an attack cannot fill the disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .onewrite import HeldHead
from .wire import WireApp, whole_request

log = logging.getLogger("mockserver")
_BUSY_BODY = b'{"code":"ServiceUnavailable","message":"too many open connections; try again later"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)
_SERVER_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
                 b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")  # uvicorn's, byte for byte
_FD_RESERVE = 64  # descriptors kept for files, the listening socket and outgoing downloads


class Guard(Protocol):
    """The overload guard as the protocol sees it (:class:`mockserver.http.overload.Overload`)."""

    limit: int  # requests in flight from which it may refuse (0: never)

    def wire(self, scope: dict, others: int, keep_alive: bool) -> tuple[bytes, bool] | None:
        """The whole answer (and whether the connection stays open) when the request is refused, else None."""


def bounded_protocol(max_connections: int, header_seconds: float, guard: Guard | None = None,
                     fast: WireApp | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (httptools when installed, else h11) with both bounds, the early refusal and
    the answers ``fast`` writes straight to the socket."""

    # Reading a request without the parser needs to know the parser is between requests: httptools says when a
    # request begins and ends, h11's protocol (without httptools installed) does not.
    _wirable = AutoHTTPProtocol.__name__ == "HttpToolsProtocol"

    class Bounded(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _header_timer: asyncio.TimerHandle | None = None
        _awaited: Any = None  # the request cycle current when the timer was armed
        _base: dict[str, Any]  # a plain request's scope keys that are the connection's
        _completing = False  # inside on_response_complete, which starts the next pipelined request
        _mid_message = False  # the parser has begun a request it has not finished (whose next bytes are its own)
        _raw: asyncio.Transport  # the socket's transport: whole answers go straight to it
        _idle_since = 0.0  # loop time of the last answer at the socket (the keep-alive timer counts from it)
        _lazy: asyncio.TimerHandle | None = None  # the keep-alive timer answers at the socket armed

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._raw = transport
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                log.warning("refused a connection: %d open, max_connections is %d", len(self.connections), max_connections)
                transport.write(_BUSY)
                transport.close()
                return
            self.transport = HeldHead(transport)  # type: ignore[assignment]  # answers leave in one write
            self._base = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "server": self.server,
                          "client": self.client, "scheme": self.scheme, "root_path": self.root_path}
            self._arm()

        def on_response_complete(self) -> None:
            if isinstance(self.transport, HeldHead):
                self.transport.release()  # an answer without a body: its head goes now
            self._completing = True
            try:
                super().on_response_complete()
            finally:
                self._completing = False

        def on_message_begin(self) -> None:  # httptools' callbacks (h11's protocol has none: see `_wirable`)
            self._mid_message = True
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self._mid_message = False
            super().on_message_complete()

        def data_received(self, data: bytes) -> None:
            if _wirable and not self._mid_message and self._between_requests() and not self.flow.write_paused \
                    and self._wired(data):
                return
            if self._header_timer is None and self._between_requests():
                self._arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)

        def _wired(self, data: bytes) -> bool:
            """Answer a whole request that ``data`` holds alone without the parser (:mod:`.wire`), if the guard
            refuses it or ``fast`` answers it; False (nothing done) otherwise."""
            if fast is None and not (guard is not None and guard.limit and len(self.tasks) >= guard.limit):
                return False
            whole = whole_request(data, self._base)
            if whole is None:
                return False
            answer = self._answer(*whole)
            if answer is None:
                return False
            if self._header_timer is not None:  # answered: the next request's headers get their full time
                self._header_timer.cancel()
                self._header_timer = None
            self._write(*answer)
            return True

        def _answer(self, scope: dict[str, Any], body: bytes | None, keep_alive: bool) -> tuple[bytes, bool] | None:
            """The guard's refusal, else ``fast``'s answer, else None (uvicorn serves the request). An exception
            is answered as uvicorn answers one from an app that has not started its answer: logged, and a 500."""
            try:
                answer = guard.wire(scope, len(self.tasks), keep_alive) if guard is not None else None
                if answer is None and fast is not None:
                    answer = fast.wire(scope, body, keep_alive)
            except Exception:
                log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
                return _SERVER_ERROR, False
            return answer

        def _write(self, answer: bytes, keep_alive: bool) -> None:
            self._raw.write(answer)  # whole: nothing for the held-head layer to join
            if not keep_alive:
                self.transport.close()
            elif self.pipeline:
                self.on_response_complete()  # as after any answer: a pipelined next started
            else:
                self._answered()

        def _answered(self) -> None:
            """uvicorn's ``on_response_complete`` after an answer at the socket, but for its keep-alive timer: that
            one cancels the timer and arms a new one after every answer, this one arms a timer once and moves
            the idle time's start (:meth:`_keep_alive_due` looks at it when the timer fires)."""
            self.server_state.total_requests += 1
            if self._raw.is_closing():
                return
            self.flow.resume_reading()
            self._idle_since = self.loop.time()
            if self.timeout_keep_alive_task is None or self.timeout_keep_alive_task is not self._lazy:
                self._unset_keepalive_if_required()  # uvicorn's own, armed after an ASGI answer
                self.timeout_keep_alive_task = self._lazy = self.loop.call_later(self.timeout_keep_alive,
                                                                                 self._keep_alive_due)

        def _keep_alive_due(self) -> None:
            """The keep-alive timeout, counted from the last answer at the socket: closes an idle connection.
            (A request that arrives goes uvicorn's way or is answered at once: none is ever running now.)"""
            left = self._idle_since + self.timeout_keep_alive - self.loop.time()
            if left > 0:
                self.timeout_keep_alive_task = self._lazy = self.loop.call_later(left, self._keep_alive_due)
                return
            self.timeout_keep_alive_task = self._lazy = None
            self.timeout_keep_alive_handler()

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:  # httptools' protocol starts each request here
            # A pipelined request started by the previous answer's end goes the ASGI way: answering it here would
            # end it here too, and a long pipeline would recurse that deep.
            answer = None if self._completing else self._answer(cycle.scope, None, cycle.keep_alive)
            if answer is None:
                super()._start_asgi_task(cycle, app)
                return
            cycle.response_started = cycle.response_complete = True  # the rest of its body is read and dropped
            self._write(*answer)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or cycle.response_complete

        def _arm(self) -> None:
            self._awaited = getattr(self, "cycle", None)
            self._header_timer = self.loop.call_later(header_seconds, self._headers_late)

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self._between_requests() or self.transport.is_closing():
                return  # a request runs: its body has its own time (mockserver.support.streams)
            if getattr(self, "cycle", None) is self._awaited:
                self.transport.close()  # no request's headers arrived in time
            else:
                self._arm()  # a request came and went: the next one's headers get their full time

    return Bounded


def fd_capped(max_connections: int) -> int:
    """``max_connections``, lowered to fit the process's descriptor limit (raised to its hard limit first)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return max_connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + _FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - _FD_RESERVE))


class RepeatFilter(logging.Filter):
    """Lets a given message through at most ``burst`` times per ``seconds``; then one line says how many were dropped."""

    def __init__(self, seconds: float = 10.0, burst: int = 3) -> None:
        super().__init__()
        self.seconds = seconds
        self.burst = burst
        self._seen: dict[tuple[str, Any], list[float]] = {}  # message -> [window start, count, suppressed]

    def clear(self) -> None:
        """Start counting afresh."""
        self._seen.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()  # log pacing, not emulated time
        entry = self._seen.get(key)
        if entry is None or now - entry[0] >= self.seconds:
            if len(self._seen) > 1024:  # many distinct messages: start over rather than grow
                self._seen.clear()
            suppressed = int(entry[2]) if entry is not None else 0
            self._seen[key] = [now, 1, 0]
            if suppressed:
                record.msg = f"{record.msg} (and {suppressed} more like it in the last {self.seconds:g} s, not logged)"
            return True
        entry[1] += 1
        if entry[1] <= self.burst:
            return True
        entry[2] += 1
        return False


_FILTER = RepeatFilter()


def quiet_repeats(names: tuple[str, ...] = ("asyncio", "uvicorn.error", "mockserver")) -> None:
    """Install the repeat filter on the loggers an attack can make noisy (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
