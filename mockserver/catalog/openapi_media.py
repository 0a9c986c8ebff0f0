"""The OpenAPI pieces of the media answers: the synchronous image route's and a video task's."""

from __future__ import annotations

from typing import Any

from .schema import ModelEntry

_URL = {"type": "string", "format": "uri"}
_COUNT = {"type": "integer", "minimum": 0}
VIDEO_USAGE = {"type": "object", "required": ["video_duration"], "properties": {
    "duration": _COUNT, "input_video_duration": _COUNT, "output_video_duration": _COUNT,
    "video_ratio": {"type": "string", "description": "W*H, or 'standard' for the image-to-video families, '1:1' for emo"},
    "video_duration": {"type": "number", "minimum": 0},
    "video_count": _COUNT, "SR": {"type": "integer", "description": "the shorter side of the clip"}}}


def video_fields(layout: str) -> dict[str, Any]:
    """A SUCCEEDED video task's own fields (after ``end_time``), as its layout puts the MP4's signed URL."""
    url = {**_URL, "description": "an H.264 MP4"}
    if layout == "results":
        return {"results": {"type": "object", "required": ["video_url"], "properties": {"video_url": url}}}
    prompts = {"orig_prompt": {"type": "string"}, "actual_prompt": {"type": "string"}} if layout == "prompts" else {}
    return {**prompts, "video_url": url}


def call_schema(entry: ModelEntry) -> dict[str, Any]:
    """The synchronous image route's answer, keys in order: captured for qwen-image-max, documented for wan2.6."""
    wan = entry.output.usage_tokens
    image = {"image": _URL, "type": {"const": "image"}} if wan else {"image": _URL}
    content = {"type": "object", "required": list(image), "properties": image}
    message = {"type": "object", "required": ["content", "role"], "properties": {
        "content": {"type": "array", "items": content}, "role": {"const": "assistant"}}}
    choice = {"type": "object", "required": ["finish_reason", "message"],
              "properties": {"finish_reason": {"const": "stop"}, "message": message}}
    choices = {"type": "array", "items": choice}
    if wan:
        output = {"type": "object", "required": ["choices", "finished"],
                  "properties": {"choices": choices, "finished": {"const": True}}}
        usage_keys = {"image_count": _COUNT, "input_tokens": _COUNT, "output_tokens": _COUNT,
                      "size": {"type": "string", "pattern": r"^\d+\*\d+$"}, "total_tokens": _COUNT}
    else:
        metric = {"type": "object", "required": ["FAILED", "SUCCEEDED", "TOTAL"],
                  "properties": {key: _COUNT for key in ("FAILED", "SUCCEEDED", "TOTAL")}}
        output = {"type": "object", "required": ["choices", "task_metric"],
                  "properties": {"choices": choices, "task_metric": metric}}
        usage_keys = {key: _COUNT for key in ("height", "image_count", "width")}
    usage = {"type": "object", "required": list(usage_keys), "properties": usage_keys}
    return {"type": "object", "title": f"{entry.name} answer", "required": ["output", "usage", "request_id"],
            "properties": {"output": output, "usage": usage, "request_id": {"type": "string"}},
            "description": "Answered once the images exist (the call blocks).", "x-source": entry.output.source}
