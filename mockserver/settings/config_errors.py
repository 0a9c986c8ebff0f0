"""Settings errors as a person wants to read them: the file, the key, what is allowed, the nearest valid name.

pydantic's own dump (``1 validation error for Settings / sped / Extra inputs are
not permitted ... https://errors.pydantic.dev/...``) names neither the file nor
what would have been right; :func:`load` reads the settings and turns any
problem into a :class:`SettingsError` whose text says both.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from ..support.suggest import did_you_mean
from .config import Settings


class SettingsError(ValueError):
    """The settings cannot be used; the message is meant for the person who wrote them."""


def load(path: str | Path | None, overrides: Mapping[str, Any]) -> Settings:
    """The settings of the file at ``path`` (if any) under the command line's ``overrides`` (None: not given)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    source = f"in {path}" if path else "on the command line"
    try:
        if path:
            return Settings.from_file(path, **given)
        return Settings(**given)
    except OSError as error:
        raise SettingsError(f"cannot read the config file {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{path} is not valid YAML: {_yaml_problem(error)}") from None
    except ValidationError as error:
        raise SettingsError(explain(error, source, set(given))) from None
    except ValueError as error:  # the file is not a mapping
        raise SettingsError(str(error)) from None


def explain(error: ValidationError, source: str, from_command_line: set[str] = frozenset()) -> str:
    """Every problem of ``error``, one line each, under a line naming where the settings came from."""
    problems = error.errors()
    head = f"invalid settings {source}" + (":" if len(problems) == 1 else f" ({len(problems)} problems):")
    return "\n".join([head] + [f"  {_problem(problem, from_command_line)}" for problem in problems])


def _problem(problem: Mapping[str, Any], from_command_line: set[str]) -> str:
    loc = tuple(problem["loc"])
    key = _key(loc, from_command_line)
    kind = problem["type"]
    given = problem.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        return f"{key}: unknown setting{hint}" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(problem.get("ctx", {}).get("expected", "")))
        hint = did_you_mean(str(given), allowed) if isinstance(given, str) else ""
        return f"{key}: {given!r} is not allowed{hint} (allowed: {', '.join(allowed)})"
    message = str(problem["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return f"{key}: {message.lower()}"
    return f"{key}: {message[:1].lower()}{message[1:]} (got {given!r})"


def _key(loc: tuple[Any, ...], from_command_line: set[str]) -> str:
    """``accounts[0].limits.wanx-v1.concurrency``; a top-level value from the command line is its option."""
    if len(loc) == 1 and loc[0] in from_command_line:
        return f"--{str(loc[0]).replace('_', '-')}"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"`{text}`" if text else "the settings"


def _fields_at(path: tuple[Any, ...]) -> list[str]:
    """The setting names the model at ``path`` (inside :class:`Settings`) accepts."""
    current: Any = Settings
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else None
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    return sorted(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` is X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem
