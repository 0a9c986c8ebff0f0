"""Checks a submit's ``input`` and ``parameters`` against a model entry's rules.

A broken rule is reported the way the entry says: synchronously (an
:class:`~mockserver.domain.errors.ApiError`, HTTP 400) or as a task that is accepted
and then ends FAILED (returned as :attr:`Validated.task_failure`). Unknown keys
are kept: the real service tolerates them and the SDKs leak a few.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..domain.errors import ApiError
from .derived import per_entry
from .schema import FieldRule, ModelEntry

_SIZE = re.compile(r"^(\d{1,5})\*(\d{1,5})$")
_CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class Failure:
    """A broken rule that ends the task FAILED instead of failing the submit."""

    code: str
    message: str


class Validated(NamedTuple):  # read-only, and made per submit: a tuple costs a fraction of a frozen dataclass
    input: dict[str, Any]
    parameters: dict[str, Any]
    task_failure: Failure | None = None


class _Broken(Exception):
    def __init__(self, kind: str, **details: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.details = details


def validate(
    entry: ModelEntry, input_: dict[str, Any], parameters: dict[str, Any], messages: dict[str, dict[str, str]]
) -> Validated:
    """Apply defaults and truncation, check every rule; raise or report the first break."""
    sections = {"input": dict(input_), "parameters": dict(parameters)}
    task_failure: Failure | None = None
    for top in _fields(entry):
        values = sections[top.section]
        value = values.get(top.name)
        if value is None:
            if top.optional:  # absent and not required: its default, if any
                if top.default is not None:
                    values[top.name] = copy.deepcopy(top.default) if top.mutable else top.default
                continue
        elif top.as_is is not None and top.as_is(value):
            continue  # what the full check would keep as it is
        try:
            _check_field(top.rule, values, top.name, top.path, sections)
        except _Broken as broken:
            failure = _failure(top.rule, broken, top.path, top.name, messages)
            if top.rule.error.via == "sync":
                raise ApiError(failure.code, message=failure.message) from None
            task_failure = task_failure or failure
    return Validated(sections["input"], sections["parameters"], task_failure)


@dataclass(frozen=True)
class _Top:
    """A top-level field of an entry, with what checking it needs worked out once (the catalog is fixed)."""

    section: str  # "input" or "parameters"
    name: str
    path: str  # "parameters.size": how a message names it
    rule: FieldRule
    optional: bool  # neither required nor required under a condition: absent, it only takes its default
    default: Any
    mutable: bool  # a list or object default: every task gets its own copy
    as_is: Callable[[Any], bool] | None  # a quick yes for a value the full check keeps unchanged (:func:`_as_is`)


@per_entry
def _fields(entry: ModelEntry) -> tuple[_Top, ...]:
    """The entry's fields, input's then parameters', each as a :class:`_Top`."""
    return tuple(
        _Top(section, name, f"{section}.{name}", rule, not rule.required and not rule.required_if, rule.default,
             not isinstance(rule.default, (str, int, float, type(None))), _as_is(rule))
        for section, rules in (("input", entry.input), ("parameters", entry.parameters))
        for name, rule in rules.items()
    )


def _as_is(rule: FieldRule) -> Callable[[Any], bool] | None:
    """A quick test of a present value that :func:`_check_field` would keep unchanged: a string within its
    length (and its enum or sizes), a number within its range, a boolean; None: every value gets the full check.

    Most of a submit's values pass, and the full check walks every kind's branches to say so. The test may say
    no to a value that passes (the full check then decides), never yes to one it would refuse or change: an
    empty string (which a required field refuses) and anything the check would truncate get the full check.
    """
    kind, most = rule.type, rule.max_length if rule.max_length is not None else math.inf
    if kind == "string" or (kind == "size" and rule.sizes is not None and rule.enum is None):
        allowed = rule.sizes if kind == "size" else rule.enum
        if allowed is None:
            return lambda value: type(value) is str and 0 < len(value) <= most
        listed = frozenset(item for item in allowed if type(item) is str)
        return lambda value: type(value) is str and value in listed and 0 < len(value) <= most
    if rule.enum is not None or kind not in ("integer", "number", "boolean"):
        return None
    if kind == "boolean":
        return lambda value: type(value) is bool
    low = -math.inf if rule.min is None else rule.min
    high = math.inf if rule.max is None else rule.max
    if kind == "integer":
        return lambda value: type(value) is int and low <= value <= high
    return lambda value: (type(value) is int or type(value) is float) and low <= value <= high


def _check_field(rule: FieldRule, values: dict[str, Any], name: str, path: str, sections: dict[str, dict]) -> None:
    """Check (and default or truncate in place) ``values[name]``; a nested break names its own path."""
    present = values.get(name) is not None
    required = rule.required or (rule.required_if is not None and _condition_holds(rule.required_if, sections))
    if not present or (required and values[name] == ""):
        if required:
            raise _Broken("required", path=path, name=name)
        if rule.default is not None:
            values[name] = copy.deepcopy(rule.default)
        return
    try:
        values[name] = _check(rule, values[name], path, sections)
    except _Broken as broken:  # the innermost field names the path, as the real messages do
        broken.details.setdefault("path", path)
        broken.details.setdefault("name", name)
        raise


def _condition_holds(condition: dict[str, list[Any]] | None, sections: dict[str, dict]) -> bool:
    if not condition:
        return False
    for dotted, wanted in condition.items():
        section, _, field = dotted.partition(".")
        if sections.get(section, {}).get(field) in wanted:
            return True
    return False


def _failure(rule: FieldRule, broken: _Broken, path: str, name: str, messages: dict[str, dict[str, str]]) -> Failure:
    default = messages[broken.kind]
    template = rule.error.message or default["message"]
    fields = {"path": path, "name": name, **broken.details}
    return Failure(rule.error.code or default["code"], template.format(**fields))


def _check(rule: FieldRule, value: Any, path: str = "", sections: dict[str, dict] | None = None) -> Any:
    """Return the value as the task will use it (truncated, say), or raise _Broken."""
    kind = rule.type
    if kind in ("string", "url", "size"):
        if not isinstance(value, str):
            raise _Broken("type", expected="string")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Broken("type", expected="integer")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Broken("type", expected="number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _Broken("type", expected="boolean")
    elif kind == "array":
        if not isinstance(value, list):
            raise _Broken("type", expected="array")
    elif kind == "object":
        if not isinstance(value, dict):
            raise _Broken("type", expected="object")

    if rule.enum is not None and value not in rule.enum:
        raise _Broken("enum", allowed=_listing(rule.enum), value=value)
    if kind in ("integer", "number"):
        _check_range(rule, value)
    elif kind == "string" and rule.max_length is not None and len(value) > rule.max_length:
        if not rule.truncate:
            raise _Broken("too_long", max=rule.max_length)
        value = value[: rule.max_length]
    elif kind == "size":
        _check_size(rule, value)
    elif kind == "url":
        _check_url(rule, value)
    elif kind == "array":
        value = _check_items(rule, value, path, sections)
    elif kind == "object" and rule.properties:
        value = dict(value)
        for name, sub in rule.properties.items():
            _check_field(sub, value, name, f"{path}.{name}", sections or {})
    return value


def _check_range(rule: FieldRule, value: float) -> None:
    low = -math.inf if rule.min is None else rule.min
    high = math.inf if rule.max is None else rule.max
    if not low <= value <= high:
        raise _Broken("range", min=_number(rule.min), max=_number(rule.max), value=value)


def _check_size(rule: FieldRule, value: str) -> None:
    if rule.sizes is not None:
        if value not in rule.sizes:
            raise _Broken("size_enum", allowed=_listing(rule.sizes), value=value)
        return
    match = _SIZE.match(value)
    if rule.side is not None:
        low, high = rule.side
        if not match or not all(low <= int(side) <= high for side in match.groups()):
            raise _Broken("size_range", min=low, max=high, value=value)
    if rule.area is not None:
        low, high = rule.area
        width, height = (int(side) for side in match.groups()) if match else (0, 1)
        ratio_low, ratio_high = rule.ratio or (0.0, float("inf"))
        if not (low <= width * height <= high and height and ratio_low <= width / height <= ratio_high):
            raise _Broken("size_area", min=low, max=high, value=value)


def _check_url(rule: FieldRule, value: str) -> None:
    if rule.no_chinese and _CHINESE.search(value):
        raise _Broken("url_chinese", value=value)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in rule.schemes or not rest:
        raise _Broken("url", value=value)


def _check_items(rule: FieldRule, value: list[Any], path: str, sections: dict[str, dict] | None) -> list[Any]:
    count = len(value)
    if (rule.min_items is not None and count < rule.min_items) or (
        rule.max_items is not None and count > rule.max_items
    ):
        raise _Broken("items", min=rule.min_items or 0, max=rule.max_items or "∞")
    if rule.items is None:
        return value
    return [_check(rule.items, item, f"{path}[{index}]", sections) for index, item in enumerate(value)]


def _listing(values: list[Any]) -> str:
    """Python-list style, as the real size message prints it: ['1024*1024', '720*1280']."""
    return "[" + ", ".join(repr(value) for value in values) + "]"


def _number(value: float | None) -> str:
    if value is None:
        return "∞"
    return str(int(value)) if float(value).is_integer() else str(value)


KEPT_CHARS = 4096  # a string a task keeps is cut here (only placeholder labels read past a prompt's limit)
KEPT_EXTRA = 16  # fields without a rule a task keeps (seed, style...: the real service tolerates unknown keys)
_EXTRA_CHARS = 256  # and the length of their names and string values
_SHARED_TEXT = 64  # text values up to this long are interned (a prompt, longer, is rarely repeated)


def kept(rules: dict[str, FieldRule], values: dict[str, Any]) -> dict[str, Any]:
    """What a task keeps of a checked section for its 24 hours: the fields its model has rules for
    (strings cut at ``KEPT_CHARS``; a list or object only while it serializes within that, as a
    chat-style ``messages`` does) and a few scalars without rules. The rest was needed only by the
    checks and the download, which are done: keeping it would let one request hold its whole body
    in memory for a day.

    Names and short text values are interned: most of a retained task's memory was the strings its
    JSON body was parsed into (``"size"``, ``"1024*1024"`` ...); interned, a million tasks share one copy.
    """
    out: dict[str, Any] = {}
    extra = 0
    intern = sys.intern
    for name, value in values.items():
        rule = rules.get(name)
        if rule is not None:
            if value is rule.default:  # filled in by validate (or a small int the client sent): shared already
                out[intern(name)] = value
                continue
            kind = type(value)  # JSON's own types: no subclasses to allow for
            if kind is str:
                value = value[:KEPT_CHARS]
            elif (kind is list or kind is dict) and len(json.dumps(value)) > KEPT_CHARS:
                continue
        elif extra < KEPT_EXTRA and len(name) <= _EXTRA_CHARS and isinstance(value, (str, int, float)):
            extra += 1
            kind = type(value)
            value = value[:_EXTRA_CHARS] if kind is str else value
        else:
            continue
        out[intern(name)] = intern(value) if kind is str and len(value) <= _SHARED_TEXT else value
    return out


def size_of(text: str) -> tuple[int, int]:
    """``"1024*768"`` to ``(1024, 768)``; the caller has validated the text."""
    width, height = text.split("*")
    return int(width), int(height)
