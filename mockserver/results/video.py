"""Placeholder result videos: a playable H.264 MP4 of the requested size, length and frame rate.

Each second of the clip is one labelled placeholder picture (model, fps, size,
"second k of n", seed, prompt), held for ``fps`` frames, so a 5 s clip draws five
pictures and x264 encodes the repeats almost for free (``ultrafast``, constant
quality). The bytes are a pure function of :class:`VideoSpec`, so the same
seed gives the same file and a re-render after a cache eviction is identical.

The encoder is PyAV (its wheel ships FFmpeg with libx264; no system ffmpeg, no
download at run time). It is the optional ``video`` extra: without it the task
API still runs video tasks, and downloading a video says what to install.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from .render import Placeholder, draw_image

INSTALL_HINT = "placeholder videos need PyAV: pip install 'dashscope-mock[video]'"
_QUALITY = "32"  # x264 constant rate factor: flat placeholder pictures need few bits


class VideoUnavailable(RuntimeError):
    """PyAV is not installed: videos cannot be encoded (the message says what to install)."""


@dataclass(frozen=True)
class VideoSpec:
    """Everything a placeholder video shows; equal specs encode to equal bytes."""

    model: str
    width: int
    height: int
    seconds: int
    fps: int
    seed: int
    prompt: str
    font: str | None = None


def render_mp4(spec: VideoSpec) -> bytes:
    """The MP4 bytes of ``spec`` (CPU-bound: call it off the event loop)."""
    try:
        import av
    except ImportError:
        raise VideoUnavailable(INSTALL_HINT) from None
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=spec.fps, options={"preset": "ultrafast", "crf": _QUALITY})
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        frame_number = 0
        for second in range(spec.seconds):
            picture = _frame(av, draw_image(_still(spec, second)))
            for _ in range(spec.fps):
                picture.pts = frame_number
                frame_number += 1
                container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _still(spec: VideoSpec, second: int) -> Placeholder:
    return Placeholder(model=spec.model, style=f"{spec.fps} fps", width=spec.width, height=spec.height, index=second,
                       count=spec.seconds, seed=spec.seed, prompt=spec.prompt, font=spec.font, unit="second")


def _frame(av, image: Image.Image):  # noqa: ANN001, ANN202 - PyAV is imported lazily
    """A yuv420p frame of ``image`` (PyAV's own ``from_image`` would need numpy)."""
    frame = av.VideoFrame(image.width, image.height, "rgb24")
    plane = frame.planes[0]
    row = image.width * 3
    data = image.convert("RGB").tobytes()
    if plane.line_size != row:  # rows padded for alignment
        data = b"".join(data[y * row:(y + 1) * row].ljust(plane.line_size, b"\0") for y in range(image.height))
    plane.update(data)
    return frame.reformat(format="yuv420p")
