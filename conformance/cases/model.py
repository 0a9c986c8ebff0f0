"""A conformance case: what the emulator does, what the client should do, and the check that grades it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..grades import Finding
from ..observation import Observation

LEVELS = ("MUST", "SHOULD", "MAY")  # broken: FAILED, NON-STRICT, NON-STRICT (MAY cases mostly inform)
MODEL = "wanx-v1"


class Stage(Protocol):
    """What a case's ``during`` hook may do while the adapter runs (see ``conformance.runner``)."""

    def wait_for(self, route: str, timeout: float = 60.0) -> dict[str, Any] | None: ...

    def advance(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Case:
    """One numbered case. ``faults`` are fault rules of ``docs/control-plane.md`` (the harness
    adds the case's key to their match); ``account`` is a ``PATCH /__mock/account`` body."""

    id: str
    title: str
    level: str
    source: str  # where the expected behaviour comes from
    emulator: str  # what the emulator does, in words
    expected: str  # what the client should do, in words
    check: Callable[[Observation], Finding]
    prompt: str = "a cat"  # in-band directives included
    parameters: dict[str, Any] = field(default_factory=lambda: {"n": 1})
    tasks: int = 1
    action: str = "generate"
    timeout_seconds: float = 60.0  # generous: only the cases about deadlines set a short one
    faults: tuple[dict[str, Any], ...] = ()
    account: dict[str, Any] | None = None
    during: Callable[[Stage], None] | None = None
    exclusive: bool = False  # moves the emulator's shared clock: runs alone

    def job(self, out_dir: str) -> dict[str, Any]:
        """The ``DASHSCOPE_CONFORMANCE_JOB`` document."""
        return {"action": self.action, "model": MODEL, "input": {"prompt": self.prompt},
                "parameters": dict(self.parameters), "tasks": self.tasks,
                "timeout_seconds": self.timeout_seconds, "out_dir": out_dir}

    def describe(self) -> dict[str, Any]:
        """The catalogue entry (``conformance list --json``, the docs)."""
        return {"id": self.id, "title": self.title, "level": self.level, "source": self.source,
                "emulator": self.emulator, "expected": self.expected, "action": self.action,
                "prompt": self.prompt, "parameters": self.parameters, "tasks": self.tasks,
                "timeout_seconds": self.timeout_seconds, "faults": list(self.faults), "account": self.account}


def rule(route: str, count: int | None = 1, **effect: Any) -> dict[str, Any]:
    """A fault rule on ``route`` firing ``count`` times (None: always)."""
    body: dict[str, Any] = {"match": {"route": route}, **effect}
    if count is not None:
        body["count"] = count
    return body
