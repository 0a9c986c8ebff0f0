"""The synchronous image route's answer (``multimodal-generation/generation``), from the call's own task.

The real call blocks until the images exist and answers them in its body (captured 2026-06 for
qwen-image-max, keys in this order)::

    {"output": {"choices": [{"finish_reason": "stop", "message": {"content": [{"image": URL}], "role": "assistant"}}],
                "task_metric": {"FAILED": 0, "SUCCEEDED": 1, "TOTAL": 1}},
     "usage": {"height": 928, "image_count": 1, "width": 1664}, "request_id": ...}

The emulator plans such a call as a task no query or list sees (``Task.call``): it
gets the same durations, faults and signed, expiring result URLs as any task, and
the HTTP layer answers once the clock reaches its end. What would end a task FAILED
is the call's HTTP error, with the same code and message.
"""

from __future__ import annotations

from typing import Any, Callable

from .catalog import ModelEntry
from .catalog.validate import size_of
from .errors import ApiError
from .lifecycle.task import FAILED, Task

ResultUrl = Callable[[Task, int], str]
DEFAULT_SIZE = "1024*1024"  # an edit model's output without a size follows its input (not looked at): decision


def call_answer(task: Task, entry: ModelEntry, result_url: ResultUrl) -> dict[str, Any]:
    """``{"output", "usage"}`` of a finished call (the caller adds ``request_id``); a failed one raises its error."""
    if task.final_status() == FAILED:
        outcome = task.failure or next(iter(task.image_failures.values()))
        raise ApiError(outcome.code, message=outcome.message)
    total = task.image_count
    done = [index for index in range(total) if index not in task.image_failures]
    choices = [
        {"finish_reason": "stop", "message": {"content": [{"image": result_url(task, index)}], "role": "assistant"}}
        for index in done
    ]
    asked = task.parameters.get("size") if "size" in entry.parameters else None  # only a size a rule bounds
    width, height = size_of(str(asked or entry.default_size or DEFAULT_SIZE))
    return {
        "output": {"choices": choices, "task_metric": {"FAILED": total - len(done), "SUCCEEDED": len(done), "TOTAL": total}},
        "usage": {"height": height, "image_count": len(done), "width": width},
    }


def message_text(input_: dict[str, Any]) -> str:
    """The first text of ``input.messages[].content[]`` (what a placeholder labels), or ``""``."""
    for message in input_.get("messages") or []:
        for item in (message.get("content") if isinstance(message, dict) else None) or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                return item["text"]
    return ""
