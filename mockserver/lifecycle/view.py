"""What a query sees: a task's ``output`` and ``usage`` at one instant, in the exact shapes.

Key order follows the real answers (``task_id``, ``task_status``, times,
``results``, ``task_metrics``) so a byte-level comparison with a capture holds.
"""

from __future__ import annotations

from typing import Any, Callable

from ..catalog.schema import ModelEntry
from ..timefmt import task_time, task_time_seconds
from .task import CANCELED, FAILED, PENDING, RUNNING, SUCCEEDED, UNKNOWN, Task

ResultUrl = Callable[[Task, int], str]

PROMPT_EXTENSION = ", highly detailed, natural lighting, sharp focus, rich colours"


def unknown_output(task_id: str) -> dict[str, Any]:
    return {"task_id": task_id, "task_status": UNKNOWN}


def task_output(task: Task, status: str, entry: ModelEntry, result_url: ResultUrl) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(output, usage)`` for a task in ``status``; usage is None where the real service omits it."""
    if status == UNKNOWN:
        return unknown_output(task.task_id), None
    output: dict[str, Any] = {"task_id": task.task_id, "task_status": status}
    total = task.image_count
    if status == FAILED:
        outcome = task.failure or next(iter(task.image_failures.values()))
        output["code"] = outcome.code
        output["message"] = outcome.message
    output["submit_time"] = task_time(task.submitted_at)
    if status == CANCELED:
        output["end_time"] = task_time(task.finished_at)
        output["task_metrics"] = _metrics(total, 0, 0)
        return output, None
    if status in (RUNNING, SUCCEEDED, FAILED):
        output["scheduled_time"] = task_time(task.scheduled_at)
    if status in (SUCCEEDED, FAILED):
        stamp = task_time_seconds if entry.output.end_time_seconds else task_time
        output["end_time"] = stamp(task.ended_at)
    if status == SUCCEEDED:
        output["results"] = [_result(task, index, entry, result_url) for index in range(total)]
        output.update(entry.output.extra)
        succeeded = task.succeeded_images()
        output["task_metrics"] = _metrics(total, succeeded, total - succeeded)
        return output, {"image_count": succeeded}
    if status == FAILED:
        output["task_metrics"] = _metrics(total, 0, total)
        return output, None
    assert status in (PENDING, RUNNING)
    output["task_metrics"] = _metrics(total, 0, 0)
    return output, None


def _result(task: Task, index: int, entry: ModelEntry, result_url: ResultUrl) -> dict[str, Any]:
    failure = task.image_failures.get(index)
    if failure is not None:
        return {"code": failure.code, "message": failure.message}
    result: dict[str, Any] = {}
    if entry.output.prompts:
        prompt = task.input.get("prompt", "")
        result["orig_prompt"] = prompt
        if task.parameters.get("prompt_extend", True):
            result["actual_prompt"] = prompt + PROMPT_EXTENSION
    result["url"] = result_url(task, index)
    return result


def _metrics(total: int, succeeded: int, failed: int) -> dict[str, int]:
    return {"TOTAL": total, "SUCCEEDED": succeeded, "FAILED": failed}
