"""What a query sees: a task's ``output`` and ``usage`` at one instant, in the exact shapes.

Key order follows the real answers (``task_id``, ``task_status``, times,
``results``, ``task_metrics``) so a byte-level comparison with a capture holds.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Collection

from ..catalog.schema import ModelEntry, VideoOutput
from ..support.timefmt import task_time, task_time_seconds
from .task import CANCELED, FAILED, PENDING, RUNNING, SUCCEEDED, UNKNOWN, Task
from .text_layers import text_params

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
        output.update(_finished(task, entry, result_url))
        succeeded = task.succeeded_images()
        if entry.output.task_metrics:
            output["task_metrics"] = _metrics(total, succeeded, total - succeeded)
        return _ordered(output, entry.output.order), _usage(task, entry, succeeded)
    if status == FAILED:
        output["task_metrics"] = _metrics(total, 0, total)
        return output, None
    assert status in (PENDING, RUNNING)
    output["task_metrics"] = _metrics(total, 0, 0)
    return output, None


def _finished(task: Task, entry: ModelEntry, result_url: ResultUrl) -> dict[str, Any]:
    """A SUCCEEDED task's own fields, in the shape its entry declares (after ``end_time``)."""
    shape = entry.output
    total = task.image_count
    fields: dict[str, Any] = {}
    if shape.shape == "fields":  # one URL per named field, no results list
        for index, name in enumerate(shape.url_fields):
            fields[name] = result_url(task, index)
    elif shape.shape == "choices":  # the messages form: one assistant message per image
        fields["finished"] = True
        fields["choices"] = [
            {"finish_reason": "stop", "message": {"role": "assistant", "content": [{"image": result_url(task, index), "type": "image"}]}}
            for index in range(total)
            if index not in task.image_failures
        ]
    elif shape.shape == "lists":  # per-image lists straight in output; the k-th URL list takes URLs k*total..
        done = [index for index in range(total) if index not in task.image_failures]
        urls = 0
        for name, kind in shape.lists.items():
            if kind == "url":
                fields[name] = [result_url(task, urls * total + index) for index in done]
                urls += 1
            else:
                fields[name] = [_token(task, name, index) for index in done]
    elif shape.video is not None:  # one clip, where its layout puts it
        if shape.video.layout == "results":
            fields["results"] = {"video_url": result_url(task, 0)}
        else:
            fields.update(_prompts(task) if shape.video.layout == "prompts" else {})
            fields["video_url"] = result_url(task, 0)
    else:
        fields["results"] = [_result(task, index, entry, result_url) for index in range(total)]
    text = shape.text_results
    if text is not None and task.input.get(text.when) not in (None, ""):
        offset = shape.image_urls(total)  # text layers take the URLs after the images'
        width, height = entry.image_size(task.parameters)
        fields["text_results"] = {
            "urls": [{"url": result_url(task, offset + index)} for index in range(total)],
            "params": [text_params(task.task_id, task.input, width, height, index) for index in range(total)],
        }
    if shape.start_time:
        fields["start_time"] = (task_time_seconds if shape.end_time_seconds else task_time)(task.scheduled_at)
    for name in shape.echo:
        if name in task.input:
            fields[name] = task.input[name]
    fields.update(shape.extra)
    return fields


def _ordered(output: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """``output`` with the keys ``order`` names first, in that order (a capture's), then the rest."""
    if not order:
        return output
    first = {key: output[key] for key in order if key in output}
    return {**first, **{key: value for key, value in output.items() if key not in first}}


def _result(task: Task, index: int, entry: ModelEntry, result_url: ResultUrl) -> dict[str, Any]:
    failure = task.image_failures.get(index)
    if failure is not None:
        return {"code": failure.code, "message": failure.message}
    result: dict[str, Any] = _prompts(task) if entry.output.prompts else {}
    total = task.image_count
    for k, key in enumerate(entry.output.url_keys):
        result[key] = result_url(task, k * total + index)
    return result


def _prompts(task: Task) -> dict[str, str]:
    """``orig_prompt``, and ``actual_prompt`` when the prompt was extended (the default)."""
    prompt = task.input.get("prompt", "")
    prompts = {"orig_prompt": prompt}
    if task.parameters.get("prompt_extend", True):
        prompts["actual_prompt"] = prompt + PROMPT_EXTENSION
    return prompts


def _token(task: Task, name: str, index: int) -> str:
    """An opaque per-image value (the poster's auxiliary_parameters), stable for a task."""
    return hashlib.sha256(f"{task.task_id}/{name}/{index}".encode()).hexdigest()


def _usage(task: Task, entry: ModelEntry, succeeded: int) -> dict[str, Any]:
    video = entry.output.video
    if video is not None:
        return _video_usage(task, video, entry.parameters)
    if not entry.output.usage_tokens:
        return {"image_count": succeeded}
    size = entry.size_text(task.parameters)
    return {"image_count": succeeded, "input_tokens": 0, "output_tokens": 0, "size": size, "total_tokens": 0}


def _metrics(total: int, succeeded: int, failed: int) -> dict[str, int]:
    return {"TOTAL": total, "SUCCEEDED": succeeded, "FAILED": failed}


def _video_usage(task: Task, video: VideoOutput, ruled: Collection[str]) -> dict[str, Any]:
    """A video task's usage: the keys its entry lists, in that order."""
    seconds, size = video.seconds(task.parameters, ruled), video.size(task.parameters, ruled)
    values: dict[str, Any] = {
        "video_duration": seconds, "duration": seconds, "output_video_duration": seconds, "input_video_duration": 0,
        "video_ratio": size if video.ratio == "size" else video.ratio, "video_count": 1,
        "SR": min(int(side) for side in size.split("*")),
    }
    return {key: values[key] for key in video.usage}
