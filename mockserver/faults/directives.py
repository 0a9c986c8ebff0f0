"""In-band directives: faults asked for inside the request, for clients that cannot reach the admin API.

In a prompt: ``[mock:fail=InternalError.Timeout]``, several items split by ``;``
or in several brackets; the brackets are stripped from the prompt the task
keeps. In the ``X-Mock-Directive`` header: the same items, split by ``;``.
Every item is documented in ``docs/control-plane.md``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ..support.parsing import json_value
from .effects import Effects

MARK = "[mock:"  # what every directive in a prompt begins with
_BRACKET = re.compile(r"\s*\[mock:([^\]]*)\]\s*")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_PARTIAL = re.compile(r"^(\d+)(?:/(\d+))?(?::(.+))?$")


class DirectiveError(ValueError):
    """A directive that cannot be understood: the request is refused with its text."""


def split_prompt(prompt: str) -> tuple[str, str]:
    """``(prompt without the directives, the directive items joined by ';')``."""
    if MARK not in prompt:  # the common case, without the regular expression
        return prompt, ""
    items = [match.group(1) for match in _BRACKET.finditer(prompt)]
    if not items:
        return prompt, ""
    return _BRACKET.sub(" ", prompt).strip(), ";".join(items)


def parse(text: str) -> Effects | None:
    """The effects of ``fail=X;running=30s;...``; None when there are no items."""
    fields: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, value = item.partition("=")
        name, value = name.strip().lower(), value.strip()
        handler = _ITEMS.get(name)
        if handler is None:
            raise DirectiveError(f"unknown mock directive {name!r}; known: {', '.join(sorted(_ITEMS))}")
        handler(fields, value)
    if not fields:
        return None
    try:
        return Effects.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        raise DirectiveError(f"mock directive {text!r}: {first['msg']}") from None


def duration(value: str) -> float:
    match = _DURATION.match(value.strip().lower())
    if match is None:
        raise DirectiveError(f"{value!r} is not a duration like 30s, 10m, 2h or 500ms")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _code(value: str) -> dict[str, str]:
    code, _, variant = value.partition("#")
    if not code:
        raise DirectiveError("a mock directive needs an error code, e.g. fail=InternalError.Timeout")
    return {"code": code, "variant": variant} if variant else {"code": code}


def _fail(fields: dict[str, Any], value: str) -> None:
    fields["fail"] = _code(value)


def _partial(fields: dict[str, Any], value: str) -> None:
    match = _PARTIAL.match(value)
    if match is None:
        raise DirectiveError(f"partial={value!r}: write partial=K, partial=K/N or partial=K/N:CODE[,CODE...]")
    partial: dict[str, Any] = {"failed": int(match.group(1))}
    if match.group(2):
        partial["of"] = int(match.group(2))
    if match.group(3):
        partial["codes"] = [code.strip() for code in match.group(3).split(",") if code.strip()]
    fields["partial"] = partial


def _timing(name: str):
    def handler(fields: dict[str, Any], value: str) -> None:
        fields[name] = duration(value)

    return handler


def _stuck(fields: dict[str, Any], value: str) -> None:
    fields["stuck"] = True


def _extra(fields: dict[str, Any], value: str) -> None:
    name, sep, raw = value.partition(":")
    if not sep or not name:
        raise DirectiveError(f"extra={value!r}: write extra=NAME:VALUE")
    try:
        parsed: Any = json_value(raw.encode())  # deep nesting is refused, not a RecursionError
    except ValueError:
        parsed = raw
    fields.setdefault("extra", {})[name] = parsed


def _http(fields: dict[str, Any], value: str) -> None:
    fields["http"] = {**fields.get("http", {}), **_code(value)}


def _http_number(key: str):
    def handler(fields: dict[str, Any], value: str) -> None:
        if not value.isdigit():
            raise DirectiveError(f"{key.replace('_', '-')}={value!r} must be a whole number")
        fields.setdefault("http", {})[key] = int(value)

    return handler


def _network(fields: dict[str, Any], value: str) -> None:
    fields["network"] = {"kind": value}


def _stall(fields: dict[str, Any], value: str) -> None:
    fields["network"] = {"kind": "stall", "seconds": duration(value)}


_ITEMS = {
    "fail": _fail,
    "partial": _partial,
    "pending": _timing("pending"),
    "running": _timing("running"),
    "stuck": _stuck,
    "extra": _extra,
    "http": _http,
    "status": _http_number("status"),
    "retry-after": _http_number("retry_after"),
    "network": _network,
    "stall": _stall,
}
