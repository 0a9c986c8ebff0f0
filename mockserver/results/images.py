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
from ..catalog.validate import size_of
from ..domain.calls import answer_size, message_text
from ..lifecycle.task import SUCCEEDED, Task
from ..store import Store
from .cache import ByteLRU
from .names import EXTENSIONS, ObjectName, object_name, parse
from .render import Placeholder, render
from .video import VideoSpec, render_mp4

Spec = Placeholder | VideoSpec  # what one result object shows

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
    spec: Spec
    last_modified: float  # the task's end on the emulator clock: when the object was written


class ResultImages:
    def __init__(self, store: Store, catalog: Catalog, cache_bytes: int, font: str | None = None) -> None:
        self._store = store
        self._font = font
        self._catalog = catalog
        self._cache: ByteLRU[Spec, Rendered] = ByteLRU(cache_bytes)
        self.rendering = 0  # downloads waiting for a render now (mockserver.http.objects bounds it)

    def name(self, task: Task, index: int) -> ObjectName:
        """Where image ``index`` of ``task`` lives (URLs of text layers continue the numbering)."""
        output = self._catalog.models[task.model].output
        extension = "mp4" if output.video is not None else EXTENSIONS[output.image_format]
        return object_name(output.objects, task.task_id, task.account, task.ended_at, index, task.input.get("style_index"), extension)

    def find(self, bucket: str, key: str, now: float) -> Found | None:
        """The image ``bucket``/``key`` names, or None when no such object exists (yet, or at all)."""
        named = parse(bucket, key)
        task = self._store.get_task(named.task_id) if named is not None else None
        if named is None or task is None or now < task.ended_at or task.final_status() != SUCCEEDED:
            return None
        output = self._catalog.models[task.model].output
        count = output.url_count(task.image_count, task.input)
        wanted = ObjectName(bucket, key)
        for index in range(count) if named.index is None else [named.index]:
            if index < count and index % task.image_count not in task.image_failures and self.name(task, index) == wanted:
                spec = self.video(task) if output.video is not None else self.placeholder(task, index)
                return Found(spec, task.ended_at)
        return None

    def video(self, task: Task) -> VideoSpec:
        """What a video task's clip shows: its size, length and frame rate (``mockserver.results.video``)."""
        entry = self._catalog.models[task.model]
        video = entry.output.video
        assert video is not None, "only a video entry has a clip"
        width, height = size_of(video.size(task.parameters, entry.parameters))
        seconds = video.seconds(task.parameters, entry.parameters)
        return VideoSpec(model=task.model, width=width, height=height, seconds=seconds, fps=video.fps,
                         seed=self._seed(task), prompt=str(task.input.get("prompt") or ""), font=self._font)

    def placeholder(self, task: Task, index: int) -> Placeholder:
        """What image ``index`` of ``task`` shows: the requested size (or the model's default) and seed."""
        entry = self._catalog.models[task.model]
        width, height = entry.image_size(task.parameters)
        if task.call:  # a synchronous call's images are the size its answer reports
            width, height = size_of(answer_size(self._catalog.calls.get(task.model) or entry, task.parameters))
        seed = self._seed(task)
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
            prompt=str(task.input.get("prompt") or message_text(task.input)),
            lines=task.lines,
            font=self._font,
        )

    @staticmethod
    def _seed(task: Task) -> int:
        """The submit's seed, or one drawn from the task id (results repeat for a task either way)."""
        seed = task.parameters.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            seed = int.from_bytes(hashlib.sha256(task.task_id.encode()).digest()[:8], "big") % _SEED_SPACE
        return seed

    def cached(self, spec: Spec) -> Rendered | None:
        return self._cache.get(spec)

    def render(self, spec: Spec) -> Rendered:
        """Render (CPU-bound: call it off the event loop) and keep the result in the cache; a video may raise VideoUnavailable."""
        cached = self.cached(spec)
        if cached is not None:
            return cached
        if isinstance(spec, VideoSpec):
            body, media_type = render_mp4(spec), "video/mp4"
        else:
            body, media_type = render(spec), "image/jpeg" if spec.format == "JPEG" else "image/png"
        digest = hashlib.md5(body).digest()
        rendered = Rendered(body, f'"{digest.hex().upper()}"', base64.b64encode(digest).decode(), media_type)
        self._cache.put(spec, rendered)
        return rendered
