"""The catalog for a terminal: one model's entry in a screenful, and the error catalog as a table.

``dashscope-mock models NAME`` prints :func:`summary`; ``--full`` / ``--json``
print the whole entry (defaults included); ``dashscope-mock errors`` prints
:func:`errors_table`.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ErrorCatalog
from .schema import FieldRule, ModelEntry
from .table import _mark, row


def summary(entry: ModelEntry) -> str:
    """What a user needs first: route, limits, price, timing, fields with their allowed values, output."""
    _, route, mode, rate, slots, price, free, output = row(entry)
    timing = entry.timing
    lines = [
        f"{entry.name}" + (f" — {entry.title}" if entry.title else ""),
        f"  route      POST /api/v1{route} ({mode}" + (", X-DashScope-Async: enable)" if mode == "async" else ")"),
        f"  limits     {rate} submits/s, {slots} at once (per account)",
        f"  billing    {price} CNY/image, {free} free images",
        f"  timing     pending {_span(timing.pending)} s, running {_span(timing.running_base)} s "
        f"+ {timing.running_per_image:g} s/image{'' if timing.source.startswith('captured') else '*'}",
        f"  output     {output}",
    ]
    for section, fields in (("input", entry.input), ("parameters", entry.parameters)):
        if fields:
            lines.append(f"  {section}:")
            width = max(len(name) for name in fields)
            lines += [f"    {name.ljust(width)}  {_field(rule)}" for name, rule in fields.items()]
    if entry.notes:
        lines.append(f"  notes      {' '.join(entry.notes.split())}")
    lines.append("  (* our decision; † read second-hand)  the whole entry: --full (YAML) or --json")
    return "\n".join(lines) + "\n"


def full_json(entry: ModelEntry) -> str:
    return json.dumps(entry.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def errors_table(errors: ErrorCatalog) -> str:
    """Every code the emulator can answer with: HTTP status, code, message."""
    specs = sorted(errors, key=lambda spec: (spec.status, spec.code))
    width = max(len(spec.code) for spec in specs)
    lines = [f"{'status':<6}  {'code'.ljust(width)}  message"]
    for spec in specs:
        lines.append(f"{spec.status:<6}  {spec.code.ljust(width)}  {spec.message}")
        lines += [f"{'':<6}  {'':<{width}}    #{variant}: {text}" for variant, text in spec.messages.items()]
    return "\n".join(lines) + "\n"


def _span(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _field(rule: FieldRule) -> str:
    """``integer 1..4, default 4`` / ``one of <auto>, <anime>`` / ``url, required``."""
    parts: list[Any] = [rule.type + (", required" if rule.required else "")]
    if rule.enum is not None:
        parts.append("one of " + ", ".join(map(str, rule.enum)))
    if rule.sizes:
        parts.append("sizes " + ", ".join(rule.sizes))
    if rule.min is not None or rule.max is not None:
        parts.append(f"{_number(rule.min)}..{_number(rule.max)}")
    if rule.max_length is not None:
        parts.append(f"at most {rule.max_length} characters" + (" (longer is cut)" if rule.truncate else ""))
    if rule.default is not None:
        parts.append(f"default {rule.default}")
    text = ", ".join(map(str, parts))
    return _mark(text, rule.source) if rule.source.startswith(("decision", "code")) else text


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
