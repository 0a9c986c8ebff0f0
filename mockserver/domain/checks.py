"""A synchronous model's answer: the finished output in the HTTP response itself, no task.

facechain-facedetect answers ``{"output": {...}, "usage": {...}, "request_id": ...}``
with one verdict per input image; emo-detect-v1 one verdict for its one image. A sync call has no task
to fail, so what would end a task FAILED (a broken rule, an image the worker
cannot use, a ``fail`` fault) is the HTTP error itself, with the same code
and message (the emulator raises it before this module is reached, or here
for a fault). Every item passes unless a ``partial`` fault marks the last ones
failed; the emulator does not look for faces.
"""

from __future__ import annotations

from typing import Any

from ..catalog import ModelEntry
from ..faults.effects import Effects
from .errors import ApiError


def answer(entry: ModelEntry, input_: dict[str, Any], effects: Effects | None) -> dict[str, Any]:
    """``{"output": ..., "usage"?: ...}`` in the documented key order (the caller adds ``request_id``)."""
    checks = entry.output.checks
    assert checks is not None, "only a `mode: sync` entry has checks"
    items = input_.get(checks.of) if checks.of is not None else [input_]
    count = len(items) if isinstance(items, list) else 0
    failed = 0
    if effects is not None:
        if effects.fail is not None:
            raise ApiError(effects.fail.code, effects.fail.variant, message=effects.fail.message)
        if effects.partial is not None:
            partial = effects.partial
            if partial.of is not None and partial.of != count:
                raise ApiError("InvalidParameter", message=f"mock partial={partial.failed}/{partial.of} "
                               f"does not match this call's {count} item(s)")
            failed = min(partial.failed, count)
    verdicts = [checks.passed] * (count - failed) + [checks.failed] * failed
    if checks.of is None:  # one verdict: the output is the verdict itself
        output: dict[str, Any] = dict(verdicts[0])
    else:
        output = {key: [verdict[key] for verdict in verdicts] for key in checks.passed}
    if effects is not None and effects.extra:
        output.update(effects.extra)
    return {"output": output} if checks.usage is None else {"output": output, "usage": dict(checks.usage)}
