"""The shape of a model entry in ``contracts/models/*.yaml``.

The catalog is data: a model's route, its input and parameter rules, its
output shape, limits, price and timing profile. These pydantic models are
the schema every entry is checked against when the catalog loads, so a typo
in a YAML file fails loudly at start-up instead of quietly at request time.
"""

from __future__ import annotations

import math
import re
from typing import Any, Collection, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .derived import per_entry

ErrorPath = Literal["sync", "task"]
# Bounds every entry obeys (decisions): a task's image count and an image's pixels. A result image is
# rendered on request, so an unbounded size or count would let one submit spend gigabytes.
MAX_IMAGES = 16
MAX_PIXELS = 2048 * 2048
_SIZE_TEXT = re.compile(r"^[1-9]\d{0,4}\*[1-9]\d{0,4}$")
FieldType = Literal["string", "integer", "number", "boolean", "array", "object", "size", "url"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldError(_Strict):
    """How one broken rule is reported: synchronously (HTTP 400) or as a FAILED task."""

    via: ErrorPath = "task"
    code: str | None = None  # None: the broken rule's default code in contracts/validation.yaml
    message: str | None = None  # a template; None: the broken rule's default message
    source: str = "decision"


class ImageLimits(_Strict):
    """What the worker accepts behind an image URL, checked on the downloaded file (``mockserver.inputs``)."""

    formats: list[str]  # Pillow's format names: JPEG (jpg/jpeg), PNG, TIFF, WEBP, BMP
    side: tuple[int, int] | None = None  # each side within [min, max] pixels
    max_ratio: float | None = None  # longer side / shorter side at most this
    max_pixels: int | None = None  # width*height at most this, in place of the 4096*4096 canvas cap
    max_bytes: int | None = None
    source: str = "doc"


class FieldRule(_Strict):
    """One field of ``input`` or ``parameters`` and the rules it must obey."""

    type: FieldType
    required: bool = False
    default: Any = None
    description: str = ""
    # numbers
    min: float | None = None
    max: float | None = None
    # strings
    enum: list[Any] | None = None
    max_length: int | None = None
    truncate: bool = False  # longer strings are cut to max_length instead of rejected
    # arrays
    min_items: int | None = None
    max_items: int | None = None
    items: FieldRule | None = None
    # sizes ("W*H")
    sizes: list[str] | None = None
    side: tuple[int, int] | None = None  # each side within [min, max] when sizes is not a list
    area: tuple[int, int] | None = None  # width*height within [min, max] (wan2.5)
    ratio: tuple[float, float] | None = None  # width/height within [min, max], with `area`
    # urls
    schemes: list[str] = Field(default_factory=lambda: ["http", "https", "oss"])
    no_chinese: bool = False
    image: ImageLimits | None = None  # the file behind the URL is an image the worker downloads and checks
    # objects: the rules of their own fields, checked like the top level (paths input.a.b, input.a[0].b)
    properties: dict[str, FieldRule] | None = None
    # required only when another field holds one of these values: {"input.function": [...]}
    required_if: dict[str, list[Any]] | None = None
    error: FieldError = FieldError()
    source: str = "doc"

    @model_validator(mode="after")
    def _size_rule(self) -> "FieldRule":
        if self.type == "size" and not (self.sizes or self.side or self.area):
            raise ValueError("a size field needs `sizes`, `side` or `area`")
        if self.type == "size" and max_pixels(self) > MAX_PIXELS:
            raise ValueError(f"a size field may allow at most {MAX_PIXELS} pixels (MAX_PIXELS)")
        return self


class Route(_Strict):
    group: str
    function: str
    service: str = "aigc"  # the task models' namespace; facechain-facedetect is on vision

    @property
    def path(self) -> str:
        return f"/services/{self.service}/{self.group}/{self.function}"


class Limits(_Strict):
    submit_per_second: int = 2
    concurrency: int = 1
    source: str = "doc"


class Billing(_Strict):
    free_quota: int = 500
    unit_price_cny: float | None = None
    source: str = "doc"


class Timing(_Strict):
    """Realistic durations in seconds (before ``--speed`` scales them)."""

    pending: tuple[float, float] = (0.02, 0.06)
    running_base: tuple[float, float] = (20.0, 24.0)
    running_per_image: float = 2.0
    source: str = "captured"


class TextResults(_Strict):
    """``text_results {urls: [{url}], params: [{sample_idx, layers}]}``: text layers some models add
    when a text input is given (laid out by :mod:`mockserver.lifecycle.text_layers`)."""

    when: str  # the input field that, when given, adds them (wanx-background-generation-v2: title)
    source: str = "captured"


class Checks(_Strict):
    """A synchronous model's verdict on each item of one input list (facechain-facedetect), or on the whole call.

    Each key of ``passed`` becomes a list in ``output``, one value per item, in
    the items' order: ``passed``'s value for an item that passes, ``failed``'s
    for one the faults mark failed (``partial``: the last ones). Without ``of``
    the call has one verdict and ``output`` is ``passed`` (or ``failed``) itself
    (emo-detect-v1, whose failed answer has keys of its own).
    """

    of: str | None  # the input list checked; None: one verdict for the call
    passed: dict[str, Any]
    failed: dict[str, Any]
    usage: dict[str, Any] | None = None  # the answer's ``usage``; None: no usage key
    source: str = "doc"

    @model_validator(mode="after")
    def _same_keys(self) -> "Checks":
        if self.of is not None and list(self.passed) != list(self.failed):
            raise ValueError("`passed` and `failed` need the same keys in the same order")
        return self


VideoUsageKey = Literal["video_duration", "video_ratio", "video_count", "duration", "input_video_duration",
                        "output_video_duration", "SR"]


def _reshaped(size: str, aspect: str) -> str:
    """``size``'s pixel count at the aspect ``W:H``, sides rounded to multiples of 8 (decision); the tier at its own."""
    width, _, height = size.partition("*")
    across, _, down = aspect.partition(":")
    area, ratio = int(width) * int(height), float(across) / float(down)
    if abs(int(width) / int(height) - ratio) < 0.01:
        return size
    return f"{round(math.sqrt(area * ratio) / 8) * 8}*{round(math.sqrt(area / ratio) / 8) * 8}"


class VideoOutput(_Strict):
    """A video task's result: its placeholder MP4 and the ``usage`` keys its page shows, in their order.

    The clip's size is ``parameters.size``, else ``resolutions[parameters.resolution]``
    (the i2v families name a tier, not a size), else ``default_size``; its length
    is ``parameters.duration`` (else ``duration``) seconds at ``fps``.
    """

    fps: int = Field(ge=1, le=60)
    duration: int = Field(default=5, ge=1, le=60)
    default_size: str = "1280*720"
    resolutions: dict[str, str] = Field(default_factory=dict)  # "720P" -> "1280*720"
    ratio: str = "size"  # usage.video_ratio: "size" for the clip's W*H, else this text ("standard", "1:1")
    # where the URL goes: after orig_prompt/actual_prompt (the wan families), alone, or as results.video_url (emo, animate)
    layout: Literal["prompts", "url", "results"] = "prompts"
    usage: list[VideoUsageKey] = Field(default_factory=lambda: ["video_duration", "video_ratio", "video_count"])
    source: str = "doc"

    def size(self, parameters: dict[str, Any], ruled: Collection[str]) -> str:
        """The clip's ``W*H``: ``size``, or the tier reshaped to ``ratio`` (wan2.7), each only where a rule bounds it.

        ``ruled`` names the entry's parameter rules: a field the entry has no rule
        for passes the validator unchecked, so it must not choose the clip's size.
        """
        if "size" in ruled and parameters.get("size"):
            return str(parameters["size"])
        tier = self.default_size
        if "resolution" in ruled:
            tier = self.resolutions.get(str(parameters.get("resolution")), self.default_size)
        aspect = parameters.get("ratio")
        return _reshaped(tier, aspect) if "ratio" in ruled and isinstance(aspect, str) else tier

    def seconds(self, parameters: dict[str, Any], ruled: Collection[str]) -> int:
        value = parameters.get("duration")
        if "duration" in ruled and isinstance(value, int) and not isinstance(value, bool):
            return value
        return self.duration


class Output(_Strict):
    """The shape of a finished task's ``output`` (or a synchronous model's answer).

    ``results``: ``results[].url`` (most models); ``fields``: one signed URL in
    each of ``url_fields`` and no results list (image-instance-segmentation);
    ``choices``: one ``choices[i].message.content[0].image`` per image (wan2.6, the messages form);
    ``lists``: per-image lists straight in ``output`` (wanx-poster-generation-v1: render_urls, bg_urls);
    ``checks``: a verdict per input item, answered at once (``mode: sync`` models);
    ``call``: the synchronous multimodal-generation answer (``choices`` and ``task_metric``, ``mockserver.domain.calls``);
    ``video``: one ``video_url`` (an MP4) with ``orig_prompt``/``actual_prompt`` and a video ``usage``.
    """

    shape: Literal["results", "fields", "choices", "lists", "checks", "call", "video"] = "results"
    url_fields: list[str] = Field(default_factory=list)  # with shape "fields"
    url_keys: list[str] = Field(default_factory=lambda: ["url"])  # with "results": each result's URL keys (png_url, svg_url)
    lists: dict[str, Literal["url", "token"]] = Field(default_factory=dict)  # with "lists": name -> signed URLs or opaque tokens
    usage_tokens: bool = False  # usage also carries size and zero token counts (wan2.6)
    checks: Checks | None = None  # with shape "checks"
    video: VideoOutput | None = None  # with shape "video"
    text_results: TextResults | None = None
    start_time: bool = False  # a start_time (= scheduled time) after results (wanx-style-repaint-v1)
    echo: list[str] = Field(default_factory=list)  # input fields repeated in output (style_index)
    task_metrics: bool = True  # False: the finished output has no task_metrics
    prompts: bool = False  # per-result orig_prompt / actual_prompt (newer text-to-image models)
    seed_per_image: bool = False  # image i of n uses seed + i
    extra: dict[str, Any] = Field(default_factory=dict)  # fixed extra fields in output
    end_time_seconds: bool = False  # end_time (and start_time) without milliseconds
    order: list[str] = Field(default_factory=list)  # a finished output's captured key order (absent keys skipped, others after)
    lines_from: str | None = None  # the input whose fetched image gives the results their lines (sketch-to-image)
    # how result objects are named (mockserver.results.names): image (own uuid each, bj/sh), timed, repaint (JPEG)
    objects: Literal["image", "timed", "repaint"] = "image"
    image_format: Literal["PNG", "JPEG"] = "PNG"  # the results' bytes (repaint's names end .jpg whatever this says)
    source: str = "doc"

    @model_validator(mode="after")
    def _fields_shape(self) -> "Output":
        if (self.shape == "fields") != bool(self.url_fields):
            raise ValueError("`url_fields` goes with shape `fields`, and only with it")
        if (self.shape == "lists") != bool(self.lists):
            raise ValueError("`lists` goes with shape `lists`, and only with it")
        if (self.shape == "checks") != (self.checks is not None):
            raise ValueError("`checks` goes with shape `checks`, and only with it")
        if (self.shape == "video") != (self.video is not None):
            raise ValueError("`video` goes with shape `video`, and only with it")
        return self

    @property
    def extension(self) -> str:
        """The result objects' file extension: ``mp4`` for a video, else ``png``."""
        return "mp4" if self.shape == "video" else "png"

    def image_urls(self, images: int) -> int:
        """How many signed URLs the images of a task take (indexes from 0; k-th URL of image i at ``k * images + i``)."""
        if self.shape == "fields":
            return len(self.url_fields)
        if self.shape == "results":
            return len(self.url_keys) * images
        if self.shape == "lists":
            return sum(kind == "url" for kind in self.lists.values()) * images
        return images if self.shape in ("choices", "call", "video") else 0

    def url_count(self, images: int, input_: dict[str, Any]) -> int:
        """Every signed URL a SUCCEEDED task hands out: its images', then its text layers' (one per image)."""
        text = self.text_results
        return self.image_urls(images) + (images if text is not None and input_.get(text.when) not in (None, "") else 0)


SYNC_GENERATION = Route(group="multimodal-generation", function="generation")


class Call(_Strict):
    """A model's second, synchronous route (multimodal-generation/generation): its own body, the same images.

    wan2.6-t2i and qwen-image(-plus) answer both as tasks on their own route and
    at once here, with ``input.messages`` in place of ``input.prompt``.
    """

    route: Route = SYNC_GENERATION
    input: dict[str, FieldRule]
    parameters: dict[str, FieldRule] = Field(default_factory=dict)
    default_size: str | None = None  # None: the entry's
    # the wan2.6 answer: content items typed "image", "finished": true and a usage with size and zero token counts,
    # in place of the captured qwen-image-max answer's task_metric and width/height usage
    usage_tokens: bool = False
    example: dict[str, Any] = Field(default_factory=dict)
    source: str = "doc"


class ModelEntry(_Strict):
    """Everything the emulator knows about one model."""

    name: str
    title: str = ""
    route: Route
    mode: Literal["async", "sync"] = "async"
    input_required: bool = True  # False: a body without `input` is accepted (facechain-generation's preset styles)
    input: dict[str, FieldRule] = Field(default_factory=dict)
    parameters: dict[str, FieldRule] = Field(default_factory=dict)
    output: Output = Output()
    limits: Limits = Limits()
    billing: Billing = Billing()
    timing: Timing = Timing()
    call: Call | None = None  # also answers synchronously on a second route
    # the parameter (or "input.<field>") that says how many images a task makes: an integer rule with a
    # `max`; None: one image, whatever the request says (a video, or a model whose pages name no count)
    images_field: str | None = "n"
    default_size: str | None = None
    sources: list[str] = Field(default_factory=list)
    notes: str = ""
    # a valid request, the base of the generated contract's examples and of the per-model tests
    example: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sync_answers_checks(self) -> "ModelEntry":
        if (self.mode == "sync") != (self.output.shape in ("checks", "call")):
            raise ValueError("a `mode: sync` model answers with output shape `checks` or `call`, and only it does")
        if self.call is not None and self.mode == "sync":
            raise ValueError("`call` adds a synchronous route to an asynchronous model")
        return self

    @model_validator(mode="after")
    def _bounded(self) -> "ModelEntry":
        """Every entry bounds what a task may spend: its image count and its images' size."""
        if self.mode == "async" and self.images_field is not None:
            rule = self.images_rule()
            if rule is None or rule.type != "integer" or rule.max is None or rule.max > MAX_IMAGES:
                raise ValueError(
                    f"images_field {self.images_field!r} needs an integer rule with a `max` of at most {MAX_IMAGES} "
                    "(from the model's page, or a decision marked `source: decision`), or `images_field: null`"
                )
        size = self.parameters.get("size")
        if size is not None and size.type != "size":
            raise ValueError("`parameters.size` must be of type `size` (with `sizes`, `side` or `area`)")
        return self

    def images_rule(self) -> FieldRule | None:
        section, _, field = (self.images_field or "").rpartition(".")
        return (self.input if section == "input" else self.parameters).get(field)

    def size_text(self, parameters: dict[str, Any]) -> str | None:
        """The results' size as ``W*H``: the request's only when the entry has a size rule that checked it
        (a size the model takes no rule for is ignored, never rendered), else the model's default."""
        size = parameters.get("size") if "size" in self.parameters else None
        valid = isinstance(size, str) and _SIZE_TEXT.match(size) is not None
        return size if valid else self.default_size

    def called(self) -> "ModelEntry":
        """This model as its synchronous route serves it: a `mode: sync` entry answering shape `call`."""
        call = self.call
        assert call is not None, "only an entry with `call` has a synchronous variant"
        return self.model_copy(update={
            "route": call.route, "mode": "sync", "input": call.input, "parameters": call.parameters,
            "output": Output(shape="call", usage_tokens=call.usage_tokens, source=call.source), "call": None,
            "input_required": True,
            "default_size": call.default_size or self.default_size, "example": call.example,
        })

    def image_size(self, parameters: dict[str, Any]) -> tuple[int, int]:
        """The results' ``(width, height)``: the checked requested size, else the model's default, else 1024*1024."""
        width, _, height = (self.size_text(parameters) or "1024*1024").partition("*")
        return int(width), int(height)

    def image_count(self, parameters: dict[str, Any], input_: dict[str, Any] | None = None) -> int:
        """How many images a task with these (validated) parameters makes."""
        counted = _image_counting(self)
        if counted is None:
            return 1
        in_input, field, low, high, default = counted
        value = ((input_ or {}) if in_input else parameters).get(field)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        return default  # out of range: the task fails on the broken rule; it plans (and counts) the default


@per_entry
def _image_counting(entry: ModelEntry) -> tuple[bool, str, int, int, int] | None:
    """``(in input?, the count's field, its least, its most, the count planned when the request's is out of
    range)`` of an entry with an ``images_field``; None: one image a task."""
    if entry.images_field is None:
        return None
    section, _, field = entry.images_field.rpartition(".")
    rule = entry.images_rule()
    low, high = (rule.min or 1, rule.max or 1) if rule is not None else (1, 1)
    default = rule.default if rule is not None else None
    planned = default if isinstance(default, int) and low <= default <= high else int(low)
    return section == "input", field, low, high, planned


def max_pixels(rule: FieldRule) -> int:
    """The most pixels a size rule allows (width*height)."""
    if rule.sizes:
        return max(width * height for width, height in (_pair(size) for size in rule.sizes))
    if rule.area is not None:
        return rule.area[1]
    return rule.side[1] ** 2 if rule.side is not None else 0


def _pair(text: str) -> tuple[int, int]:
    width, _, height = text.partition("*")
    return int(width), int(height)
