"""Pillow checks of a downloaded input image, against a model's :class:`ImageLimits`.

The header is read first (format and size) and judged before any pixel is
decoded, so a small file that declares a huge canvas (a decompression bomb)
is refused on its declared size; decoding then runs only on images within
bounds. No Pillow exception escapes: each becomes a failure kind. CPU-bound:
run it off the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from ..catalog.schema import ImageLimits

# Declared canvases beyond this are refused before decoding unless the model sets its own
# `max_pixels` (the InvalidFile.Resolution message: the longest side under 4096).
MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class Inspected:
    """A decoded image within limits, or the kind of the first broken check."""

    image: Image.Image | None = None
    broken: str | None = None  # image_format, image_resolution, image_download


def inspect(data: bytes, limits: ImageLimits) -> Inspected:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in limits.formats:
                return Inspected(broken="image_format")
            if not _within(image.size, limits):
                return Inspected(broken="image_resolution")
            image.load()
            return Inspected(image=image.copy())
    except Image.DecompressionBombError:
        return Inspected(broken="image_resolution")
    except Exception:  # noqa: BLE001 - Pillow's decoders raise many types (OSError, SyntaxError, struct.error, ...)
        # not an image, truncated or corrupt: the worker could not read what it downloaded
        return Inspected(broken="image_download")


def _within(size: tuple[int, int], limits: ImageLimits) -> bool:
    width, height = size
    if width < 1 or height < 1 or width * height > (limits.max_pixels or MAX_PIXELS):
        return False
    if limits.side is not None:
        low, high = limits.side
        if not (low <= width <= high and low <= height <= high):
            return False
    if limits.max_ratio is not None and max(width, height) / min(width, height) > limits.max_ratio:
        return False
    return True
