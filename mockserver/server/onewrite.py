"""One write per answer: a response's head waits for its body and both leave in one system call.

uvicorn writes an answer's status line and headers when the app starts the
response, and its body when the app sends it: two writes, so two ``send``
system calls on the socket (and, on loopback, two wake-ups of the client) for
every small JSON answer. Under wrk that second call cost about as much as the
whole poll route's Python. :class:`HeldHead` sits between uvicorn's protocol and
the socket's transport: it keeps a response head back until the next write
(the body's first bytes) and writes the two together; the bytes on the wire
are the same, in the same order. (A body over ``JOIN_LIMIT`` follows in a
write of its own: copying it would cost more than the call saved.)

A held head is written at once when there is no body to join it (a HEAD, 204
or 304 answer: :meth:`HeldHead.release` on the response's end), and before
the connection closes. Interim answers (``100 Continue``, ``101``) are never
held: the client waits for them before it sends anything more.
"""

from __future__ import annotations

import asyncio
from typing import Any

JOIN_LIMIT = 64 * 1024  # bodies up to this size go out in the head's write (copying 64 KiB costs about a system call)

class HeldHead:
    """A transport proxy: everything goes straight to ``transport`` except a final response's head, held."""

    __slots__ = ("_transport", "_head")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            if len(data) > JOIN_LIMIT:  # copying a big body would cost more than the system call it saves
                self.release()
            else:
                data, self._head = self._head + data, None
        elif _final_head(data):
            self._head = data
            return
        self._transport.write(data)

    def release(self) -> None:
        """Write a head still held (its answer had no body)."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def is_closing(self) -> bool:  # asked once per request: spared the lookup below
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, abort, pause_reading...
        return getattr(self._transport, name)


def _final_head(data: bytes) -> bool:
    """Whether ``data`` is a whole non-interim response head (``HTTP/1.1 200 OK ... \\r\\n\\r\\n``)."""
    return data.startswith(b"HTTP/1.") and data[9:10] != b"1" and data.endswith(b"\r\n\r\n")
