"""A submit's answer, written directly: its bytes and the gateway's headers, as raw ASGI pairs.

A submit is the hottest route after the poll. Its answer is fixed but for two
ids, so it is not run through the JSON encoder or Starlette's ``Response``
constructor (which re-encodes and re-checks a header dict on every call);
``tests/test_submit_path.py`` holds both to what those give.
"""

from __future__ import annotations

import hashlib

from starlette.responses import Response

SUBMIT_TIMEOUT = b"298"  # x-dashscope-timeout on submits and synchronous calls (captured 2026)


def submitted_body(request_id: str, task_id: str) -> bytes:
    """The submit answer, keys in the 2026 capture's order (2024's was ``output {task_status, task_id}, request_id``).

    Both ids are our own (hex digits and dashes: nothing to escape).
    """
    return b'{"request_id":"%s","output":{"task_id":"%s","task_status":"PENDING"}}' % (request_id.encode(), task_id.encode())


def submit_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    """The gateway's headers on a submit's (or synchronous call's) answer, as captured in 2026.

    The trace id is 32 hex, derived from the request id (so a seeded run repeats it).
    """
    return [
        (b"x-dashscope-call-gateway", b"true"),
        (b"eagleeye-traceid", hashlib.md5(request_id.encode()).hexdigest().encode()),
        (b"x-dashscope-timeout", SUBMIT_TIMEOUT),
    ]


class Answer(Response):
    """A 200 of ready bytes: what ``Response(body, headers=..., media_type=...)`` sends, the same headers in the
    same order (``headers``, then length and type), without its per-call checks."""

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]], media_type: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [*headers, (b"content-length", b"%d" % len(body)), (b"content-type", media_type)]
