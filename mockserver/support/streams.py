"""Reading a body with bounds: refused as soon as it passes the size cap or its time, never buffered past it.

A ``Content-Length`` over the cap is refused before a byte is read, so a client
that sent ``Expect: 100-continue`` gets the refusal instead of "100 Continue"
(uvicorn sends that only when the app first asks for the body).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, AsyncIterable, AsyncIterator, Coroutine

from starlette.types import Message, Receive, Scope


class TooLarge(Exception):
    """The body (or the length it declared) passed the cap."""


class TooSlow(Exception):
    """The body did not arrive whole within its time."""


def declared_over(declared: str | None, limit: int) -> bool:
    """Whether a ``Content-Length`` value says the body passes ``limit``."""
    return declared is not None and declared.strip().isdigit() and int(declared) > limit


async def read_capped(
    chunks: AsyncIterable[bytes], limit: int, declared: str | None = None, seconds: float | None = None
) -> bytes:
    """All of ``chunks``: :class:`TooLarge` when a declared ``Content-Length`` or the bytes read pass ``limit``,
    :class:`TooSlow` when they take longer than ``seconds`` in all."""
    if declared_over(declared, limit):
        raise TooLarge
    parts: list[bytes] = []

    async def collect() -> None:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge
            parts.append(chunk)

    if seconds is None:
        await collect()
    else:
        try:
            await _within(collect(), seconds)
        except asyncio.TimeoutError:
            raise TooSlow from None
    return b"".join(parts)


async def _within(work: Coroutine[Any, Any, None], seconds: float) -> None:
    """Run ``work`` in this task under a deadline (a timer, not a task of its own and the loop turns it costs:
    the body is usually there already); ``wait_for`` where ``asyncio.timeout`` is missing (Python 3.10)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            await work
    else:
        await asyncio.wait_for(work, seconds)


async def buffer(scope: Scope, receive: Receive, limit: int, seconds: float) -> tuple[bytes | None, Receive]:
    """The request's body (None when it is declared over ``limit``, passes it, is too slow, or the client left) and a
    ``receive`` that hands the same messages on, then raises what stopped the reading (the route's
    reader turns :class:`TooLarge` / :class:`TooSlow` into the 413 / 408)."""
    messages: list[Message] = []
    declared = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"content-length"), None)
    body: bytes | None = None
    problem: Exception | None = None
    try:
        body = await read_capped(_chunks(receive, messages), limit, declared, seconds)
    except (TooLarge, TooSlow) as error:
        problem = error
    if messages and messages[-1]["type"] != "http.request":
        body = None  # the client left before the end: the route's reader sees it leave

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        if problem is not None:
            raise problem
        return await receive()

    return body, replay


async def _chunks(receive: Receive, seen: list[Message]) -> AsyncIterator[bytes]:
    """The body's chunks from ASGI messages, each message kept in ``seen`` for the replay."""
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
