"""The renderer and the byte-bounded cache, in process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydantic import ValidationError
from PIL import Image, ImageFont

from mockserver.settings.config import Settings

from mockserver.results.cache import ByteLRU
from mockserver.results.render import Placeholder, _wrap, render


def spec(**changes) -> Placeholder:
    fields = dict(model="wanx-v1", style="<auto>", width=320, height=200, index=0, count=1, seed=1, prompt="a cat")
    fields.update(changes)
    return Placeholder(**fields)


def test_tiny_and_odd_sizes_render():
    for width, height in ((1, 1), (16, 16), (2048, 8)):
        image = Image.open(io.BytesIO(render(spec(width=width, height=height))))
        assert image.size == (width, height)


def test_unknown_styles_get_a_palette_of_their_own():
    assert render(spec(style="<made up>")) != render(spec(style="<other>"))


SYSTEM_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.skipif(not SYSTEM_FONT.exists(), reason="needs a TrueType font on the machine (Debian's DejaVu)")
def test_a_label_font_draws_the_labels():
    default, chosen = render(spec(prompt="宇航员 a cat")), render(spec(prompt="宇航员 a cat", font=str(SYSTEM_FONT)))
    assert chosen != default
    assert chosen == render(spec(prompt="宇航员 a cat", font=str(SYSTEM_FONT)))  # still deterministic
    assert Settings(label_font=str(SYSTEM_FONT)).label_font == str(SYSTEM_FONT)


def test_a_label_font_that_cannot_load_is_a_clear_settings_error(tmp_path):
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("hello")
    for path in (not_a_font, tmp_path / "missing.ttf"):
        with pytest.raises(ValidationError, match="is not a font file Pillow can load"):
            Settings(label_font=str(path))


def test_wrapping_stays_in_its_box_and_marks_a_cut():
    font = ImageFont.load_default(size=14)
    lines = _wrap("猫" * 500, font, 200, 3)
    assert len(lines) == 3
    assert lines[-1].endswith("...")
    assert all(font.getlength(line) <= 200 for line in lines)
    assert _wrap("two words", font, 200, 3) == ["two words"]
    assert _wrap("anything", font, 200, 0) == []


def test_the_cache_evicts_least_recently_used_by_bytes():
    cache: ByteLRU[str, bytes] = ByteLRU(10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # now b is the least recently used
    cache.put("c", b"1234")
    assert cache.get("b") is None
    assert cache.get("a") == b"1234" and cache.get("c") == b"1234"
    assert cache.size == 8
    cache.put("huge", b"x" * 11)  # bigger than the budget: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2
    cache.put("a", b"123456")
    assert cache.size == 10 and cache.get("c") == b"1234"
