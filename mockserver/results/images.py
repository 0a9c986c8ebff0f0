"""Result objects: which task and image a signed key names, and its bytes, rendered once and cached.

An object exists while its task is findable in the store, has ended and the
image at that index succeeded. The name gives back the task id
(:mod:`.names`), so finding it is one store lookup; the whole name must still
equal the one the task gave that image, so the right uuid in the wrong folder
is not found.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from ..catalog import Catalog
from ..lifecycle.task import SUCCEEDED, Task
from ..store import Store
from .cache import ByteLRU
from .names import EXTENSIONS, ObjectName, object_name, parse
from .render import Placeholder, render

_SEED_SPACE = 2**31  # a drawn seed, when the submit gave none, fits every model's seed range


@dataclass(frozen=True)
class Rendered:
    """A rendered image with the validators HTTP needs."""

    body: bytes
    etag: str  # OSS style: the quoted, upper-case hex MD5
    content_md5: str  # base64 MD5, as OSS sends Content-MD5
    media_type: str = "image/png"

    def __len__(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class Found:
    spec: Placeholder
    last_modified: float  # the task's end on the emulator clock: when the object was written


class ResultImages:
    def __init__(self, store: Store, catalog: Catalog, cache_bytes: int, font: str | None = None) -> None:
        self._store = store
        self._font = font
        self._catalog = catalog
        self._cache: ByteLRU[Placeholder, Rendered] = ByteLRU(cache_bytes)

    def name(self, task: Task, index: int) -> ObjectName:
        """Where image ``index`` of ``task`` lives (URLs of text layers continue the numbering)."""
        output = self._catalog.models[task.model].output
        extension = EXTENSIONS[output.image_format]
        return object_name(output.objects, task.task_id, task.account, task.ended_at, index, task.input.get("style_index"), extension)

    def find(self, bucket: str, key: str, now: float) -> Found | None:
        """The image ``bucket``/``key`` names, or None when no such object exists (yet, or at all)."""
        named = parse(bucket, key)
        task = self._store.get_task(named.task_id) if named is not None else None
        if named is None or task is None or now < task.ended_at or task.final_status() != SUCCEEDED:
            return None
        count = self._catalog.models[task.model].output.url_count(task.image_count, task.input)
        wanted = ObjectName(bucket, key)
        for index in range(count) if named.index is None else [named.index]:
            if index < count and index % task.image_count not in task.image_failures and self.name(task, index) == wanted:
                return Found(self.placeholder(task, index), task.ended_at)
        return None

    def placeholder(self, task: Task, index: int) -> Placeholder:
        """What image ``index`` of ``task`` shows: the requested size (or the model's default) and seed."""
        entry = self._catalog.models[task.model]
        width, height = entry.image_size(task.parameters)
        seed = task.parameters.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            seed = int.from_bytes(hashlib.sha256(task.task_id.encode()).digest()[:8], "big") % _SEED_SPACE
        if entry.output.seed_per_image:
            seed += index
        return Placeholder(
            format=entry.output.image_format,
            model=task.model,
            style=str(task.parameters.get("style", "")),
            width=width,
            height=height,
            index=index,
            count=task.image_count,
            seed=seed,
            prompt=str(task.input.get("prompt", "")),
            lines=task.lines,
            font=self._font,
        )

    def cached(self, spec: Placeholder) -> Rendered | None:
        return self._cache.get(spec)

    def render(self, spec: Placeholder) -> Rendered:
        """Render (CPU-bound: call it off the event loop) and keep the result in the cache."""
        cached = self.cached(spec)
        if cached is not None:
            return cached
        body = render(spec)
        digest = hashlib.md5(body).digest()
        media_type = "image/jpeg" if spec.format == "JPEG" else "image/png"
        rendered = Rendered(body, f'"{digest.hex().upper()}"', base64.b64encode(digest).decode(), media_type)
        self._cache.put(spec, rendered)
        return rendered
