"""The synchronous image route's answer (``multimodal-generation/generation``), from the call's own task.

The real call blocks until the images exist and answers them in its body (captured 2026-06 for
qwen-image-max, keys in this order)::

    {"output": {"choices": [{"finish_reason": "stop", "message": {"content": [{"image": URL}], "role": "assistant"}}],
                "task_metric": {"FAILED": 0, "SUCCEEDED": 1, "TOTAL": 1}},
     "usage": {"height": 928, "image_count": 1, "width": 1664}, "request_id": ...}

wan2.6 answers its own documented shape there (content items typed ``image``,
``"finished": true``, a usage with ``size`` and zero token counts). The emulator
plans such a call as a task no query or list sees (``Task.call``): it gets the same durations, faults and signed, expiring result URLs as any task, and
the HTTP layer answers once the clock reaches its end. What would end a task FAILED
is the call's HTTP error, with the same code and message.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..catalog import ModelEntry
from ..catalog.validate import size_of
from ..lifecycle.task import FAILED, Task
from .errors import ApiError

ResultUrl = Callable[[Task, int], str]
_SIZE = re.compile(r"[1-9][0-9]{1,4}\*[1-9][0-9]{1,4}")
DEFAULT_SIZE = "1024*1024"  # an edit model's output without a size follows its input (not looked at): decision


def call_answer(task: Task, entry: ModelEntry, result_url: ResultUrl) -> dict[str, Any]:
    """``{"output", "usage"}`` of a finished call (the caller adds ``request_id``); a failed one raises its error.

    The captured qwen-image-max answer, or wan2.6's documented one (``output.usage_tokens``).
    """
    if task.final_status() == FAILED:
        outcome = task.failure or next(iter(task.image_failures.values()))
        raise ApiError(outcome.code, message=outcome.message)
    total = task.image_count
    done = [index for index in range(total) if index not in task.image_failures]
    wan = entry.output.usage_tokens
    choices = [
        {"finish_reason": "stop", "message": {"content": [_image(result_url(task, index), wan)], "role": "assistant"}}
        for index in done
    ]
    size = answer_size(entry, task.parameters)
    if wan:
        usage = {"image_count": len(done), "input_tokens": 0, "output_tokens": 0, "size": size, "total_tokens": 0}
        return {"output": {"choices": choices, "finished": True}, "usage": usage}
    width, height = size_of(size)
    return {
        "output": {"choices": choices, "task_metric": {"FAILED": total - len(done), "SUCCEEDED": len(done), "TOTAL": total}},
        "usage": {"height": height, "image_count": len(done), "width": width},
    }


def answer_size(entry: ModelEntry, parameters: dict[str, Any]) -> str:
    """The images' ``W*H``: a size a rule bounds, else the entry's default (a named size such as "1K" too)."""
    asked = parameters.get("size") if "size" in entry.parameters else None
    if isinstance(asked, str) and _SIZE.fullmatch(asked):
        return asked
    return entry.default_size or DEFAULT_SIZE


def _image(url: str, typed: bool) -> dict[str, str]:
    return {"image": url, "type": "image"} if typed else {"image": url}


def message_text(input_: dict[str, Any]) -> str:
    """The first text of ``input.messages[].content[]`` (what a placeholder labels), or ``""``."""
    for message in input_.get("messages") or []:
        for item in (message.get("content") if isinstance(message, dict) else None) or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                return item["text"]
    return ""
