"""The nearest valid name for a misspelt one: what a user meant by ``sped`` or ``wanx-v2``."""

from __future__ import annotations

import difflib
from typing import Iterable


def nearest(name: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``name`` (case aside), or None when none is close."""
    by_lower = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean `speed`?"`` or an empty string."""
    match = nearest(name, choices)
    return f"; did you mean `{match}`?" if match is not None else ""
