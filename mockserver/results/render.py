"""Placeholder result images: a PNG per result, at the requested size, that says what it stands for.

The picture is a pure function of :class:`Placeholder` (model, style, size,
image i of n, seed, prompt), so the same seed gives the same bytes and a
re-render after a cache eviction is byte-identical. The palette comes from the
style; the labels use Pillow's bundled default font, which needs no download
and never fails on text it cannot draw (Chinese or emoji show as boxes), or
the ``label_font`` a user names (a CJK font draws Chinese prompts). No font
is looked for on the system: the same spec gives the same bytes everywhere.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

Color = tuple[int, int, int]

# (background top, background bottom, accent) per style; other styles hash to a palette.
PALETTES: dict[str, tuple[Color, Color, Color]] = {
    "<auto>": ((36, 59, 85), (141, 196, 230), (255, 200, 87)),
    "<photography>": ((30, 30, 30), (170, 160, 150), (230, 120, 60)),
    "<portrait>": ((92, 64, 51), (236, 200, 170), (180, 60, 70)),
    "<3d cartoon>": ((70, 40, 160), (120, 220, 255), (255, 110, 180)),
    "<anime>": ((255, 150, 200), (150, 210, 255), (255, 240, 120)),
    "<oil painting>": ((80, 50, 20), (210, 160, 70), (40, 90, 140)),
    "<watercolor>": ((190, 220, 235), (250, 240, 225), (120, 170, 150)),
    "<sketch>": ((235, 235, 235), (200, 200, 200), (40, 40, 40)),
    "<chinese painting>": ((240, 232, 210), (190, 180, 150), (160, 30, 30)),
    "<flat illustration>": ((255, 214, 102), (6, 214, 160), (17, 138, 178)),
}

_MAX_PROMPT_LINES = 6
LINES_SIDE = 256  # a sketch's strokes are kept at this resolution
_INK = 200  # grey levels below this (after averaging) are strokes
PNG_LEVEL = 1  # fast zlib: placeholders are flat colours and compress well anyway
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Placeholder:
    """Everything a placeholder shows; equal placeholders render to equal bytes."""

    model: str
    style: str
    width: int
    height: int
    index: int  # zero-based
    count: int
    seed: int
    prompt: str
    lines: bytes | None = None  # a line_mask: the results draw these strokes instead of the seeded shapes
    font: str | None = None  # the labels' font file; None: Pillow's bundled font
    format: str = "PNG"  # or JPEG (wanx-style-repaint-v1's results are JPEGs)
    unit: str = field(default="image", repr=False)  # what index/count count ("second" for a video's frames)


def palette(style: str) -> tuple[Color, Color, Color]:
    known = PALETTES.get(style)
    if known is not None:
        return known
    digest = hashlib.sha256(style.encode()).digest()
    return (tuple(digest[0:3]), tuple(digest[3:6]), tuple(digest[6:9]))  # type: ignore[return-value]


def line_mask(sketch: Image.Image) -> bytes:
    """The sketch's dark strokes as a LINES_SIDE-square 1-bit mask (8 KB, kept with the task).

    The sketch is stretched to a square as the service stretches a sketch to the
    output's aspect; averaging before the threshold keeps thin strokes visible.
    """
    flat = sketch.convert("RGBA")
    paper = Image.new("RGBA", flat.size, (255, 255, 255, 255))
    gray = Image.alpha_composite(paper, flat).convert("L").resize((LINES_SIDE, LINES_SIDE), Image.Resampling.BOX)
    return gray.point(lambda value: 255 if value < _INK else 0, mode="1").tobytes()


def render(spec: Placeholder) -> bytes:
    """The bytes of ``spec`` in its format (PNG, or a baseline JPEG)."""
    buffer = io.BytesIO()
    if spec.format == "JPEG":
        draw_image(spec).save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        draw_image(spec).save(buffer, "PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def draw_image(spec: Placeholder) -> Image.Image:
    rng = random.Random(hashlib.sha256(repr(spec).encode()).digest())
    top, bottom, accent = palette(spec.style)
    width, height = spec.width, spec.height
    # Colour one column, then stretch it: a fraction of the cost of colouring every pixel.
    column = ImageOps.colorize(Image.linear_gradient("L").resize((1, height)), black=top, white=bottom)
    image = column.resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    if spec.lines is None:
        _shapes(draw, rng, width, height, (top, bottom, accent))
    else:
        strokes = Image.frombytes("1", (LINES_SIDE, LINES_SIDE), spec.lines).resize((width, height), Image.Resampling.NEAREST)
        image.paste(tuple(channel // 3 for channel in accent), mask=strokes)
    _labels(draw, spec, width, height)
    return image


def _shapes(draw: ImageDraw.ImageDraw, rng: random.Random, width: int, height: int, colors: tuple[Color, ...]) -> None:
    """A seeded scatter of discs and bars, so different seeds look different at a glance."""
    scale = min(width, height)
    for _ in range(rng.randint(6, 12)):
        base = rng.choice(colors)
        color = tuple(max(0, min(255, channel + rng.randint(-60, 60))) for channel in base)
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randint(scale // 12, scale // 3)
        box = (x - size, y - size, x + size, y + size)
        if rng.random() < 0.6:
            draw.ellipse(box, fill=color)
        else:
            draw.rectangle((x - size, y - size // 4, x + size, y + size // 4), fill=color)


@lru_cache(maxsize=32)
def _font(size: int, path: str | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)


def _labels(draw: ImageDraw.ImageDraw, spec: Placeholder, width: int, height: int) -> None:
    size = max(10, min(40, min(width, height) // 36))
    font = _font(size, spec.font)
    margin = size
    line_height = int(size * 1.3)
    lines = [
        f"{spec.model}  {spec.style}",
        f"{spec.width}*{spec.height}  {spec.unit} {spec.index + 1} of {spec.count}  seed {spec.seed}",
    ]
    room = max(0, (height // 2 - 2 * margin) // line_height - len(lines))
    lines += _wrap(spec.prompt, font, width - 2 * margin, min(room, _MAX_PROMPT_LINES))
    panel_top = height - 2 * margin - line_height * len(lines)
    draw.rectangle((0, panel_top, width, height), fill=(16, 16, 16))
    for number, line in enumerate(lines):
        draw.text((margin, panel_top + margin + number * line_height), line, font=font, fill=(245, 245, 245))


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int) -> list[str]:
    """Greedy wrapping at spaces, or anywhere in text without them (Chinese); an ellipsis when cut."""
    rest = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    lines: list[str] = []
    while rest and len(lines) < max_lines:
        fit = _fitting(rest, font, width)
        if fit >= len(rest):
            lines.append(rest)
            break
        if len(lines) == max_lines - 1:
            lines.append(_ellipsis(rest[:fit], font, width))
            break
        cut = rest.rfind(" ", 0, fit + 1)
        if cut <= 0:
            cut = fit
        lines.append(rest[:cut])
        rest = rest[cut:].lstrip()
    return lines


def _fitting(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` (at least one): a binary search,
    so a line costs a handful of layouts instead of one per character."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _ellipsis(line: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    while line and font.getlength(line + "...") > width:
        line = line[:-1]
    return line + "..."
