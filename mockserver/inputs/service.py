"""The worker's look at a submit's input images: download, check, and keep what the results need.

Runs during the submit request, after the synchronous checks and the
throttle and before the task exists, so a throttled or rejected submit never
fetches. The submit answer waits for the download (bounded by the fetch
timeouts); what it finds becomes the task's planned FAILED outcome, as every
other worker-side check does. The emulator's own files (signed result URLs on
its own address, ``oss://`` uploads) are read in-process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Iterator, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from starlette.concurrency import run_in_threadpool

from ..catalog import ModelEntry
from ..catalog.derived import per_entry
from ..catalog.schema import FieldRule, ImageLimits
from ..catalog.validate import Failure
from ..domain.clock import Clock
from ..results.images import ResultImages
from ..results.names import BUCKETS
from ..results.render import line_mask
from ..results.urls import ResultSigner
from ..settings.config import Settings
from ..uploads.service import Uploads
from .fetch import FetchError, Limits, fetch
from .inspect import inspect

MB = 1024 * 1024


@dataclass(frozen=True)
class Looked:
    """What the worker found: the first failure, and the strokes of the sketch the results follow."""

    failure: Failure | None = None
    lines: bytes | None = None


FOUND_NOTHING = Looked()  # the common finding, made once (a frozen dataclass costs a microsecond to make)


class Inputs:
    def __init__(
        self,
        settings: Settings,
        messages: dict[str, dict[str, str]],
        uploads: Uploads,
        images: ResultImages,
        signer: ResultSigner,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._messages = messages
        self._uploads = uploads
        self._images = images
        self._signer = signer
        self._clock = clock
        self._decodes = asyncio.Semaphore(settings.max_decodes)

    def downloads(self, entry: ModelEntry, input_: Mapping[str, Any]) -> bool:
        """Whether :meth:`look` would read any image (else it finds nothing, at once: a submit can be answered
        without waiting)."""
        if self._settings.fetch_inputs == "none" or not _image_fields(entry):
            return False
        return next(_image_urls(entry, input_), None) is not None

    async def look(self, entry: ModelEntry, input_: Mapping[str, Any], account_id: str, base_url: str) -> Looked:
        """Fetch and check every image input, in field order; the first failure ends the look (the emulator asks
        :meth:`downloads` first, and looks only when there is something to read)."""
        if self._settings.fetch_inputs == "none":
            return FOUND_NOTHING
        lines = None
        for name, url, limits in _image_urls(entry, input_):
            try:
                data = await self._read(url, limits, account_id, base_url)
            except FetchError as error:
                return Looked(self._failure(error.kind, url, limits))
            if data is None:
                continue
            keep = name == entry.output.lines_from
            async with self._decodes:  # a decode holds the whole canvas in memory: a few at once
                broken, strokes = await run_in_threadpool(_check, data, limits, keep)
            if broken is not None:
                return Looked(self._failure(broken, url, limits))
            lines = strokes if keep else lines
        return Looked(lines=lines)

    async def _read(self, url: str, limits: ImageLimits, account_id: str, base_url: str) -> bytes | None:
        if url.lower().startswith("oss://"):  # unresolvable ones have already failed the task
            return self._uploads.resolve(url, account_id, self._clock.now())
        settings = self._settings
        fetch_limits = Limits(
            policy=settings.fetch_inputs,
            allow_link_local=settings.fetch_allow_link_local,
            connect_seconds=settings.fetch_connect_seconds,
            total_seconds=settings.fetch_timeout_seconds,
            max_redirects=settings.fetch_max_redirects,
            max_bytes=limits.max_bytes or settings.fetch_max_mb * MB,
        )
        return await fetch(url, fetch_limits, lambda hop: self._own(hop, base_url))

    def _own(self, url: str, base_url: str) -> Awaitable[bytes] | None:
        """A reader of ``url`` when it is one of the emulator's result objects, else None."""
        parts = urlsplit(url)
        ours = {urlsplit(base).netloc.lower() for base in (base_url, self._settings.public_url or base_url)}
        bucket, _, key = parts.path.lstrip("/").partition("/")
        if parts.netloc.lower() not in ours or bucket not in BUCKETS or not key:
            return None
        return self._result(bucket, unquote(key), parse_qs(parts.query))

    async def _result(self, bucket: str, key: str, query: dict[str, list[str]]) -> bytes:
        """A result object read as OSS would serve it: signed, unexpired, existing (else not downloadable)."""
        expires, access_key_id, signature = (query.get(name, [None])[0] for name in ("Expires", "OSSAccessKeyId", "Signature"))
        now = self._clock.now()
        if self._signer.verify(bucket, key, expires, access_key_id, signature) is not None or now > int(expires or 0):
            raise FetchError("image_download")
        found = self._images.find(bucket, key, now)
        if found is None:
            raise FetchError("image_download")
        rendered = self._images.cached(found.spec) or await run_in_threadpool(self._images.render, found.spec)
        return rendered.body

    def _failure(self, kind: str, url: str, limits: ImageLimits) -> Failure:
        default = self._messages[kind]
        max_mb = (limits.max_bytes or self._settings.fetch_max_mb * MB) // MB
        return Failure(default["code"], default["message"].format(url=url, max_mb=max_mb))


def _check(data: bytes, limits: ImageLimits, keep: bool) -> tuple[str | None, bytes | None]:
    """The broken check's kind, and the strokes when asked to keep them (CPU-bound)."""
    looked = inspect(data, limits)
    if looked.image is None:
        return looked.broken, None
    return None, line_mask(looked.image) if keep else None


def _image_urls(entry: ModelEntry, input_: Mapping[str, Any]) -> Iterator[tuple[str, str, ImageLimits]]:
    """``(field, url, limits)`` of each URL the worker downloads as an image (lists of URLs too)."""
    for name, limits in _image_fields(entry):
        value = input_.get(name)
        for url in value if isinstance(value, list) else [value]:
            if isinstance(url, str):
                yield name, url, limits


@per_entry
def _image_fields(entry: ModelEntry) -> tuple[tuple[str, ImageLimits], ...]:
    """``(field, limits)`` of the input fields the worker downloads as images."""
    return tuple((name, limits) for name, limits in ((name, _limits(rule)) for name, rule in entry.input.items())
                 if limits is not None)


def _limits(rule: FieldRule) -> ImageLimits | None:
    if rule.image is not None:
        return rule.image
    return rule.items.image if rule.items is not None else None
