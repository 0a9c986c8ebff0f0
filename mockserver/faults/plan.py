"""Plan effects: how a fault reshapes a new task before it is queued.

Durations are emulated seconds and are not scaled by ``speed``: a test that asks
for 30 s of RUNNING gets 30 s on the emulator's clock. A stuck task runs past
the task timeout, so the planner ends it with ``InternalError.Timeout``.
"""

from __future__ import annotations

import math

from ..catalog import ErrorCatalog
from ..domain.errors import ApiError
from ..lifecycle.task import Outcome, Task
from .effects import Effects, Failure

# Partial failures show the output-side message, as a worker's check of its own images would.
_IMAGE_VARIANTS = {"DataInspectionFailed": "output"}


def shape(task: Task, effects: Effects, errors: ErrorCatalog) -> None:
    """Apply ``effects`` to ``task``; an impossible partial failure is a 400 naming the directive."""
    if effects.pending is not None:
        task.pending_seconds = effects.pending
    if effects.running is not None:
        task.run_seconds = effects.running
    if effects.stuck:
        task.run_seconds = math.inf
    if effects.fail is not None:
        task.failure = outcome(errors, effects.fail)
    if effects.partial is not None:
        partial = effects.partial
        n = task.image_count
        if partial.of is not None and partial.of != n:
            raise ApiError("InvalidParameter", message=f"mock partial={partial.failed}/{partial.of} "
                           f"does not match this task's {n} image(s)")
        failed = min(partial.failed, n)
        codes = partial.codes
        task.image_failures = {
            index: outcome(errors, Failure(code=codes[i % len(codes)], variant=_variant(errors, codes[i % len(codes)])))
            for i, index in enumerate(range(n - failed, n))
        }
    if effects.extra:
        task.extra = dict(effects.extra)


def outcome(errors: ErrorCatalog, failure: Failure) -> Outcome:
    spec = errors[failure.code]
    return Outcome(spec.code, failure.message if failure.message is not None else spec.text(failure.variant))


def _variant(errors: ErrorCatalog, code: str) -> str | None:
    variant = _IMAGE_VARIANTS.get(code)
    return variant if variant in errors[code].messages else None
