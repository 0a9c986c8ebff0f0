"""Background generation's text layers: ``text_results.params``, one entry per image.

The capture (wanx-background-generation-v2 with a title, 2024-03) shows, per
image, ``{"sample_idx": i, "layers": [...]}`` where the layers alternate a
``text_mask`` (a rounded, gradient-filled box) and the ``text`` drawn on it:
the input's ``title`` (``sub_type`` "Title"), then its ``sub_title``
("SubTitle"). Keys are in the captured order. The values (positions, sizes,
colours, the font) are ours: boxes are laid out inside the image, stacked
from the top, and coloured from a hash of the task and image, so they repeat.
"""

from __future__ import annotations

import hashlib
from typing import Any

FONT_FAMILY = "AlibabaPuHuiTi"  # ours: the capture's fonts are not recorded here
_TEXTS = (("title", "Title", 12, "bold", 0.8), ("sub_title", "SubTitle", 24, "normal", 0.6))


def text_params(task_id: str, input_: dict[str, Any], width: int, height: int, sample_idx: int) -> dict[str, Any]:
    """One image's entry: its index and its layers (mask, text, mask, text ...), every box inside the image."""
    digest = hashlib.sha256(f"{task_id}/text/{sample_idx}".encode()).digest()
    layers: list[dict[str, Any]] = []
    top = max(1, height // 12)
    for number, (field, sub_type, scale, weight, share) in enumerate(_TEXTS):
        content = input_.get(field)
        if not isinstance(content, str) or not content:
            continue
        font_size = max(8, height // scale)
        box_height = min(height - top, int(font_size * 1.4))
        box_width = max(1, int(width * share))
        left = (width - box_width) // 2
        pad = max(1, font_size // 4)
        mask = _rgb(digest, number * 6)
        layers.append({
            "color": mask,
            "top": max(0, top - pad),
            "left": max(0, left - pad),
            "gradient": {
                "type": "linear",
                "color_stops": [{"offset": 0, "color": mask}, {"offset": 1, "color": _rgb(digest, number * 6 + 3)}],
                "gradient_units": "pixels",
                "coords": {"y1": 0, "x1": 0, "y2": box_height + 2 * pad, "x2": 0},
            },
            "width": min(width - max(0, left - pad), box_width + 2 * pad),
            "type": "text_mask",
            "idx": len(layers),
            "opacity": 0.85,
            "radius": pad,
            "height": min(height - max(0, top - pad), box_height + 2 * pad),
        })
        layers.append({
            "font_weight": weight,
            "font_size": font_size,
            "type": "text",
            "content": content,
            "font_under_line": False,
            "line_height": 1.2,
            "font_italic": False,
            "top": top,
            "sub_type": sub_type,
            "font_color": "#FFFFFF",
            "left": left,
            "text_stroke": None,
            "width": box_width,
            "text_shadow": None,
            "font_family": FONT_FAMILY,
            "idx": len(layers),
            "alignment": "center",
            "opacity": 1,
            "font_line_through": False,
            "direction": "horizontal",
            "height": box_height,
        })
        top += box_height + 2 * pad + max(1, height // 50)
    return {"sample_idx": sample_idx, "layers": layers}


def _rgb(digest: bytes, at: int) -> str:
    return "#" + digest[at : at + 3].hex().upper()
