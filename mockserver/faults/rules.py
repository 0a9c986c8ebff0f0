"""Fault rules: which requests a fault hits, how often, and the engine that fires them.

Rules are kept in order; for each kind of effect (plan, HTTP) the first rule
that fires wins, as LocalStack's chaos rules do. A rule counts the requests it
matches (``nth`` skips the first ones), fires with its ``probability`` from one
seeded random stream (so a seeded run repeats), and stops after ``count``
firings (``None``: always).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Literal

from pydantic import Field, field_validator, model_validator

from ..catalog import ErrorCatalog
from .effects import Effects, _Model

RouteKind = Literal["submit", "query", "cancel", "list", "download"]  # download: a result image's GET/HEAD


class Match(_Model):
    """Every given field must hold; an empty match matches every DashScope request."""

    account: str | None = None  # the account id (a configured id, or key-<hash> for other keys)
    key: str | None = None  # the API key itself
    model: str | None = None  # submits only
    route: RouteKind | None = None
    prompt: str | None = None  # a regular expression searched in the prompt (submits only)

    @field_validator("prompt")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"prompt is not a valid regular expression: {error}") from None
        return value


class Rule(Effects):
    """A match, the effects it gives, and when it fires."""

    match: Match = Field(default_factory=Match)
    probability: float = Field(1.0, ge=0, le=1)
    count: int | None = Field(None, ge=1)  # fire this many times, then stop; None: always
    nth: int | None = Field(None, ge=1)  # fire from the nth matching request on

    @model_validator(mode="after")
    def _one_kind(self) -> "Rule":
        if self.has_plan() == self.has_http():
            raise ValueError("a rule needs plan effects (fail, partial, pending, running, stuck, extra) "
                             "or HTTP effects (http, network), not both nor neither")
        if self.has_plan():
            if self.match.route not in (None, "submit"):
                raise ValueError("plan effects shape a task at submission: route must be submit")
            self.match.route = "submit"
        if self.match.route == "download" and self.http is not None:
            raise ValueError("a download takes network effects only (the storage host answers its own errors)")
        return self

    def effects(self) -> Effects:
        return Effects.model_validate(self.model_dump(include=set(Effects.model_fields), exclude_defaults=True))


@dataclass(frozen=True)
class Request:
    """What rules can match a request on."""

    route: RouteKind
    account: str | None
    key: str | None
    model: str | None = None
    prompt: str | None = None


class _Armed:
    """A rule with its counters."""

    def __init__(self, rule_id: int, rule: Rule) -> None:
        self.id = rule_id
        self.rule = rule
        self.seen = 0
        self.fired = 0
        self._prompt = re.compile(rule.match.prompt) if rule.match.prompt is not None else None

    def matches(self, request: Request) -> bool:
        match = self.rule.match
        if match.route is not None and match.route != request.route:
            return False
        if match.account is not None and match.account != request.account:
            return False
        if match.key is not None and match.key != request.key:
            return False
        if match.model is not None and match.model != request.model:
            return False
        return self._prompt is None or (request.prompt is not None and bool(self._prompt.search(request.prompt)))

    def describe(self) -> dict[str, Any]:
        remaining = None if self.rule.count is None else self.rule.count - self.fired
        return {"id": self.id, **self.rule.model_dump(exclude_defaults=True), "seen": self.seen,
                "fired": self.fired, "remaining": remaining}


def _arm(rules: list[tuple[int, int, int, Rule]]) -> list[_Armed]:
    """Rules with the counters ``(id, seen, fired, rule)`` give them."""
    armed = []
    for rule_id, seen, fired, rule in rules:
        armed.append(_Armed(rule_id, rule))
        armed[-1].seen, armed[-1].fired = seen, fired
    return armed


class FaultRules:
    """The ordered rule list, thread-safe; rules are checked against the catalog when added."""

    def __init__(self, errors: ErrorCatalog, rules: list[Rule] = (), seed: int | None = None) -> None:
        self._errors = errors
        self._lock = threading.Lock()
        # Wraps every change: a shared store's session (mockserver.domain.sharing) makes it atomic across processes.
        self.changing: Callable[[], ContextManager[object]] = contextlib.nullcontext
        self._rules: list[_Armed] = []
        self._next_id = 1
        self.reseed(seed)
        for rule in rules:
            self.add(rule)

    def reseed(self, seed: int | None) -> None:
        with self.changing(), self._lock:
            self._rng = random.Random(seed) if seed is not None else random.Random()

    def add(self, rule: Rule) -> dict[str, Any]:
        rule.check(self._errors)
        with self.changing(), self._lock:
            armed = _Armed(self._next_id, rule)
            self._next_id += 1
            self._rules.append(armed)
            return armed.describe()

    def remove(self, rule_id: int) -> bool:
        with self.changing(), self._lock:
            kept = [armed for armed in self._rules if armed.id != rule_id]
            found = len(kept) != len(self._rules)
            self._rules = kept
            return found

    def clear(self, rules: list[Rule] = ()) -> None:
        """Forget every rule and its counters, then arm ``rules`` (the config file's) afresh."""
        with self.changing():
            with self._lock:
                self._rules.clear()
            for rule in rules:
                self.add(rule)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [armed.describe() for armed in self._rules]

    def export(self) -> dict[str, Any]:
        """The rules with their counters, the next id and the random stream, for a snapshot."""
        with self._lock:
            rules = [{"id": armed.id, "seen": armed.seen, "fired": armed.fired,
                      "rule": armed.rule.model_dump(exclude_defaults=True)} for armed in self._rules]
            return {"next_id": self._next_id, "random": list(self._rng.getstate()[1]), "rules": rules}

    def restore(self, rules: list[tuple[int, int, int, Rule]], next_id: int, rng: random.Random) -> None:
        """Replace every rule with ``(id, seen, fired, rule)``s already checked (a snapshot's)."""
        armed = _arm(rules)
        with self.changing(), self._lock:
            self._rules = armed
            self._next_id = next_id
            self._rng = rng

    def dump(self) -> str:
        """:meth:`export` as text, for a store several processes share."""
        return json.dumps(self.export())

    def load(self, text: str) -> None:
        """Take the rules and counters of a :meth:`dump` (rules already checked when first added)."""
        data = json.loads(text)
        rules = [(r["id"], r["seen"], r["fired"], Rule.model_validate(r["rule"])) for r in data["rules"]]
        rng = random.Random()
        rng.setstate((3, tuple(data["random"]), None))
        armed = _arm(rules)
        with self._lock:
            self._rules, self._next_id, self._rng = armed, data["next_id"], rng

    @property
    def armed(self) -> bool:
        """Whether any rule is armed."""
        return bool(self._rules)

    def fire(self, request: Request, plan: bool) -> Effects | None:
        """The effects of the first rule of the kind (plan or HTTP) that fires for ``request``."""
        if not self._rules:
            return None
        with self._lock:  # a request no rule matches changes nothing: no unit of work on a shared store
            if not any(armed.rule.has_plan() == plan and armed.matches(request) for armed in self._rules):
                return None
        winner: Effects | None = None
        with self.changing(), self._lock:
            for armed in self._rules:  # every matching rule counts the request, even after one fired
                if armed.rule.has_plan() != plan or not armed.matches(request):
                    continue
                armed.seen += 1
                if winner is None and self._eligible(armed):
                    armed.fired += 1
                    winner = armed.rule.effects()
        return winner

    def _eligible(self, armed: _Armed) -> bool:
        rule = armed.rule
        if rule.nth is not None and armed.seen < rule.nth:
            return False
        if rule.count is not None and armed.fired >= rule.count:
            return False
        return rule.probability >= 1 or self._rng.random() < rule.probability
