"""Downloads of rendered result images in one pass: ``GET /<result bucket>/<key>?Expires=..&OSSAccessKeyId=..&Signature=..``.

Through the general path each download checks the URL's signature, reads the
object's name back to its task (keyed hash rounds, three times over) and
builds OSS's headers: about four times the cost of a bare route sending the
same bytes. Here the checks of one URL are made once and remembered
(:class:`_Known`); each download re-checks only what can change since: the
expiry against the clock, that the store still holds the same task (it was
not purged or replaced by a restore), that the signer is the same, and that
the image is still in the render cache. The answer is the general path's
byte for byte (``tests/test_fastpath.py``).

Anything else goes the general way (:meth:`Downloads.serve` returns False
having sent nothing): a range or conditional GET, an armed fault rule, a bad
or expired signature, an object not found or not rendered yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import Scope, Send

from ..domain.emulator import Emulator
from ..lifecycle.task import Task
from ..results.images import Spec
from ..results.names import task_of
from ..results.urls import ResultSigner
from ..server.onewrite import JOIN_LIMIT
from ..server.wire import http_bytes
from ..support.timefmt import http_date
from . import oss
from .edge import latency_ms, record
from .objects import object_headers

_PLAIN_GET_ONLY = (b"range", b"if-none-match", b"if-modified-since")  # downloads with these go the general way
_KNOWN = 4096  # URLs remembered (oldest forgotten first): each entry is a few hundred bytes, never an image


@dataclass(slots=True)
class _Known:
    """What one signed URL names, checked once, and the headers of its object that do not change."""

    task_id: str
    task: Task
    expires: int
    spec: Spec
    signer: ResultSigner
    fixed: list[tuple[bytes, bytes]]  # the headers after OSS's request id, up to the content type

    def holds(self, emulator: Emulator, now: float) -> bool:
        """Whether the checks still hold at ``now`` (all else they depend on is fixed once a task has ended)."""
        if not (now <= self.expires and now >= self.task.ended_at and emulator.signer is self.signer):
            return False
        held = emulator.store.get_task(self.task_id)  # the same object in memory; an equal copy from a shared store
        return held is self.task or held == self.task


class Downloads:
    """Serves plain GETs of rendered result images; remembers the URLs it checked."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._known: dict[tuple[str, bytes], _Known] = {}

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer a plain GET of a rendered result image; False (nothing sent) for anything else."""
        arrived, started = self.emulator.clock.now(), time.perf_counter()
        answer = self._answer(scope, arrived)
        if answer is None:
            return False
        headers, body, known, request_id = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._journal(scope["path"], known, request_id, arrived, started)
        return True

    def wire(self, scope: Scope, keep_alive: bool) -> tuple[bytes, bool] | None:
        """:meth:`serve`'s answer as :func:`mockserver.server.wire.http_bytes`, or None (nothing done): an image
        too big to copy into one write goes the ASGI way."""
        arrived, started = self.emulator.clock.now(), time.perf_counter()
        answer = self._answer(scope, arrived, JOIN_LIMIT)
        if answer is None:
            return None
        headers, body, known, request_id = answer
        wired = http_bytes(200, headers, body, keep_alive)
        self._journal(scope["path"], known, request_id, arrived, started)
        return wired

    def _answer(self, scope: Scope, arrived: float,
                limit: int | None = None) -> tuple[list[tuple[bytes, bytes]], bytes, _Known, str] | None:
        """The answer's headers and body, the URL's checks and OSS's request id; None for anything else, and for an
        image over ``limit`` bytes (before any id is drawn: the path that serves it instead draws them)."""
        emulator = self.emulator
        if emulator.faults.rules.armed or scope.get("root_path") or any(name in _PLAIN_GET_ONLY for name, _ in scope["headers"]):
            return None
        url = (scope["path"], scope["query_string"])
        known = self._known.get(url)
        if known is None or not known.holds(emulator, arrived):
            known = self._check(*url, arrived)
            if known is None:
                return None
        rendered = emulator.images.cached(known.spec)
        if rendered is None or (limit is not None and len(rendered.body) > limit):
            return None  # not cached (the general path renders it again), or too big for the caller
        emulator.ids.request_id()  # the gateway draws one for every request: seeded ids stay in step
        oss_request_id = oss.request_id()
        headers = [(name.encode(), value.encode()) for name, value in oss.oss_headers(oss_request_id).items()]
        headers += known.fixed
        headers.append((b"date", http_date(emulator.clock.now()).encode()))
        return headers, rendered.body, known, oss_request_id

    def _journal(self, path: str, known: _Known, request_id: str, arrived: float, started: float) -> None:
        task = known.task
        record(self.emulator, time=arrived, account=task.account, method="GET", path=path, route="download", status=200,
               request_id=request_id, latency_ms=latency_ms(started),
               task_id=known.task_id, model=task.model)

    def _check(self, path: str, query_string: bytes, now: float) -> _Known | None:
        """The general path's checks of a download (signature, expiry, object, render cache), remembered if they pass."""
        emulator = self.emulator
        bucket, _, key = path[1:].partition("/")
        if "\n" in key:
            return None
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))  # as Starlette reads it
        expires = query.get("Expires")
        if emulator.signer.verify(bucket, key, expires, query.get("OSSAccessKeyId"), query.get("Signature")) is not None:
            return None
        assert expires is not None
        found = emulator.images.find(bucket, key, now) if now <= int(expires) else None
        rendered = emulator.images.cached(found.spec) if found is not None else None
        task_id = task_of(path)
        task = emulator.store.get_task(task_id) if task_id is not None else None
        if found is None or rendered is None or task is None:
            return None
        headers = object_headers(rendered, found.last_modified)
        for name in oss.oss_headers(""):
            del headers[name]  # OSS's server and request id go first: each download has its own id
        headers.update({"content-md5": rendered.content_md5, "content-length": str(len(rendered.body))})
        fixed = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
        fixed.append((b"content-type", rendered.media_type.encode()))
        known = _Known(task_id, task, int(expires), found.spec, emulator.signer, fixed)
        if len(self._known) >= _KNOWN:
            del self._known[next(iter(self._known))]  # the oldest entry
        self._known[(path, query_string)] = known
        return known
