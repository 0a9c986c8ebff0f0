"""Broken requests derived from the catalog: one per rule of every model, with the answer it must get.

The expected code and message come from the entry's own ``error`` or the rule's
default in ``contracts/validation.yaml``; the tests then check that the running
emulator answers exactly that, synchronously or as a FAILED task.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mockserver.catalog import Catalog, FieldRule, ModelEntry

_WRONG_TYPE = {
    "string": (12345, "string"),
    "url": (12345, "string"),
    "size": (1024, "string"),
    "integer": ("seven", "integer"),
    "number": ("seven", "number"),
    "boolean": ("yes", "boolean"),
    "array": ("not a list", "array"),
    "object": ("not an object", "object"),
}


@dataclass(frozen=True)
class Case:
    model: str
    label: str
    body: dict[str, Any]  # input and parameters
    via: str  # a synchronous model answers every broken rule at once
    code: str
    message: str

    @property
    def id(self) -> str:
        return f"{self.model}:{self.label}"


def valid_body(entry: ModelEntry) -> dict[str, Any]:
    body = copy.deepcopy(entry.example)
    body.setdefault("input", {})
    body.setdefault("parameters", {})
    return body


def cases(catalog: Catalog) -> list[Case]:
    found: list[Case] = []
    for entry in catalog.models.values():
        for section in ("input", "parameters"):
            for name, rule in getattr(entry, section).items():
                for label, value, kind, details in _breaks(rule):
                    body = valid_body(entry)
                    if value is _ABSENT:
                        body[section].pop(name, None)
                        for where, field, wanted in _condition(rule):
                            body[where][field] = wanted
                    else:
                        body[section][name] = value
                    default = catalog.messages[kind]
                    fields = {"path": f"{section}.{name}", "name": name, **details}
                    template = rule.error.message or default["message"]
                    found.append(
                        Case(
                            entry.name,
                            f"{section}.{name}:{label}",
                            body,
                            "sync" if entry.mode == "sync" else rule.error.via,  # no task to fail
                            rule.error.code or default["code"],
                            template.format(**fields),
                        )
                    )
    return found


_ABSENT = object()


def _condition(rule: FieldRule) -> list[tuple[str, str, Any]]:
    """``(section, field, value)`` that makes a ``required_if`` field required (in either section)."""
    if not rule.required_if:
        return []
    dotted, values = next(iter(rule.required_if.items()))
    section, _, field = dotted.partition(".")
    return [(section, field, values[0])]


def _listing(values: list[Any]) -> str:
    return "[" + ", ".join(repr(value) for value in values) + "]"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _breaks(rule: FieldRule):
    """``(label, value, rule kind, message fields)`` for each way to break ``rule``."""
    if rule.required or rule.required_if:
        yield "missing", _ABSENT, "required", {}
    wrong, expected = _WRONG_TYPE[rule.type]
    yield "type", wrong, "type", {"expected": expected}
    if rule.enum is not None:
        bad = 999 if rule.type in ("integer", "number") else "__not_allowed__"
        yield "enum", bad, "enum", {"allowed": _listing(rule.enum)}
    if rule.type in ("integer", "number") and rule.enum is None:
        step = 1 if rule.type == "integer" else 0.5
        bounds = {"min": "∞" if rule.min is None else _number(rule.min), "max": "∞" if rule.max is None else _number(rule.max)}
        if rule.min is not None:
            low = int(rule.min) - 1 if rule.type == "integer" else rule.min - step
            yield "below", low, "range", bounds
        if rule.max is not None:
            high = int(rule.max) + 1 if rule.type == "integer" else rule.max + step
            yield "above", high, "range", bounds
    if rule.type == "string" and rule.max_length is not None and not rule.truncate and rule.enum is None:
        yield "too_long", "x" * (rule.max_length + 1), "too_long", {"max": rule.max_length}
    if rule.type == "size":
        if rule.sizes is not None:
            yield "size", "1*1", "size_enum", {"allowed": _listing(rule.sizes)}
        elif rule.side is not None:
            low, high = rule.side
            yield "side", f"{low - 1}*{low}", "size_range", {"min": low, "max": high}
        else:
            low, high = rule.area
            yield "area", "100*100", "size_area", {"min": low, "max": high}
    if rule.type == "url":
        yield "url", "not a url", "url", {}
    if rule.type == "array" and rule.max_items is not None and rule.items is not None and rule.items.type == "url":
        bad = ["https://example.com/a.png"] * (rule.max_items + 1)
        yield "too_many", bad, "items", {"min": rule.min_items or 0, "max": rule.max_items}
