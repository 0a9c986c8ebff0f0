"""The OpenAPI schemas of one model entry: its submit body, its SUCCEEDED output, a synchronous model's answer
(:mod:`mockserver.catalog.openapi` puts them in the document)."""

from __future__ import annotations

from typing import Any

from .openapi_media import video_fields
from .schema import FieldRule, ModelEntry

REF = "#/components/schemas/"
TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3})?$"}
_SCALARS = {"string": "string", "url": "string", "size": "string", "integer": "integer", "number": "number",
            "boolean": "boolean", "array": "array", "object": "object"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def field_schema(rule: FieldRule) -> dict[str, Any]:
    """The JSON Schema of one field: the values the model accepts without failing the task."""
    schema: dict[str, Any] = {"type": _SCALARS[rule.type]}
    if rule.description:
        schema["description"] = rule.description
    if rule.enum is not None:
        schema["enum"] = list(rule.enum)
    if rule.min is not None:
        schema["minimum"] = rule.min
    if rule.max is not None:
        schema["maximum"] = rule.max
    if rule.type == "string" and rule.max_length is not None:
        if rule.truncate:
            schema["description"] = (schema.get("description", "") + f" Cut at {rule.max_length} characters.").strip()
        else:
            schema["maxLength"] = rule.max_length
    if rule.type == "url":
        schema["pattern"] = "^(" + "|".join(rule.schemes) + ")://."
        if rule.image is not None:  # what the worker checks on the downloaded file
            schema["x-image"] = rule.image.model_dump(mode="json")
    if rule.type == "size":
        if rule.sizes is not None:
            schema["enum"] = list(rule.sizes)
        else:
            schema["pattern"] = r"^\d{1,5}\*\d{1,5}$"
            bounds = f"each side in {list(rule.side)}" if rule.side else f"width*height in {list(rule.area)}"
            schema["description"] = (schema.get("description", "") + f" W*H, {bounds}.").strip()
    if rule.type == "array":
        if rule.items is not None:
            schema["items"] = field_schema(rule.items)
        if rule.min_items is not None:
            schema["minItems"] = rule.min_items
        if rule.max_items is not None:
            schema["maxItems"] = rule.max_items
    if rule.type == "object" and rule.properties:
        schema.update(_object(rule.properties))
    if rule.default is not None:
        schema["default"] = rule.default
    schema["x-source"] = rule.source
    return schema


def _object(rules: dict[str, FieldRule]) -> dict[str, Any]:
    schema: dict[str, Any] = {"properties": {name: field_schema(rule) for name, rule in rules.items()}}
    required = [name for name, rule in rules.items() if rule.required]
    if required:
        schema["required"] = required
    return schema


def request_schema(entry: ModelEntry) -> dict[str, Any]:
    """A submit body for this model; unknown keys are tolerated, as the real service does."""
    input_ = {"type": "object", **_object(entry.input)}
    parameters = {"type": "object", **_object(entry.parameters)}
    schema = {
        "type": "object",
        "title": entry.title or entry.name,
        "required": ["model", "input"] if entry.input_required else ["model"],
        "properties": {"model": {"const": entry.name}, "input": input_, "parameters": parameters},
    }
    if entry.example:
        schema["examples"] = [{"model": entry.name, **entry.example}]
    return schema


def succeeded_schema(entry: ModelEntry) -> dict[str, Any]:
    """The ``output`` of this model's SUCCEEDED task."""
    shape = entry.output
    url = {"type": "string", "format": "uri"}
    end = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"} if shape.end_time_seconds else TIME
    properties: dict[str, Any] = {
        "task_id": {"type": "string"},
        "task_status": {"const": "SUCCEEDED"},
        "submit_time": TIME,
        "scheduled_time": TIME,
        "end_time": end,
    }
    required = list(properties)
    if shape.shape == "fields":
        for name in shape.url_fields:
            properties[name] = url
        required += shape.url_fields
    elif shape.shape == "choices":
        content = {"type": "object", "required": ["image", "type"],
                   "properties": {"image": url, "type": {"const": "image"}}}
        message = {"type": "object", "required": ["role", "content"],
                   "properties": {"role": {"const": "assistant"}, "content": {"type": "array", "items": content}}}
        choice = {"type": "object", "required": ["finish_reason", "message"],
                  "properties": {"finish_reason": {"const": "stop"}, "message": message}}
        properties["finished"] = {"const": True}
        properties["choices"] = {"type": "array", "items": choice}
        required += ["finished", "choices"]
    elif shape.video is not None:
        fields = video_fields(shape.video.layout)
        properties.update(fields)
        required += [name for name in fields if name != "actual_prompt"]
    elif shape.shape == "lists":
        token = {"type": "string"}
        for name, kind in shape.lists.items():
            properties[name] = {"type": "array", "items": url if kind == "url" else token}
        required += list(shape.lists)
    else:
        image: dict[str, Any] = {"type": "object", "required": list(shape.url_keys),
                                 "properties": {key: url for key in shape.url_keys}}
        if shape.prompts:
            image["properties"].update({"orig_prompt": {"type": "string"}, "actual_prompt": {"type": "string"}})
        properties["results"] = {"type": "array", "items": {"oneOf": [image, ref("ImageFailure")]}}
        required.append("results")
    if shape.text_results is not None:
        properties["text_results"] = {
            "type": "object", "required": ["urls", "params"],
            "description": f"Present when input.{shape.text_results.when} is given.",
            "properties": {
                "urls": {"type": "array", "items": {"type": "object", "required": ["url"], "properties": {"url": url}}},
                "params": {"type": "array", "items": {"type": "object", "required": ["sample_idx", "layers"], "properties": {
                    "sample_idx": {"type": "integer"}, "layers": {"type": "array", "items": {"type": "object"}}}}},
            },
        }
    if shape.start_time:
        properties["start_time"] = TIME
        required.append("start_time")
    for name in shape.echo:
        properties[name] = field_schema(entry.input[name])
    for name, value in shape.extra.items():
        properties[name] = {"const": value}
        required.append(name)
    if shape.task_metrics:
        properties["task_metrics"] = ref("TaskMetrics")
        required.append("task_metrics")
    return {"type": "object", "title": f"{entry.name} SUCCEEDED", "required": required, "properties": properties,
            "x-source": shape.source}


def answer_schema(entry: ModelEntry) -> dict[str, Any]:
    """A synchronous model's answer: its verdicts per input item, at once (no task)."""
    checks = entry.output.checks
    assert checks is not None
    if checks.of is None:  # one verdict: passed or failed, as they are
        output: dict[str, Any] = {"oneOf": [{"const": checks.passed}, {"const": checks.failed}]}
    else:
        output = {"type": "object", "required": list(checks.passed), "properties": {
            key: {"type": "array", "items": {"enum": sorted({value, checks.failed[key]}, key=str)}}
            for key, value in checks.passed.items()}}
    properties: dict[str, Any] = {"output": output}
    if checks.usage is not None:
        properties["usage"] = {"type": "object"}
    properties["request_id"] = {"type": "string"}
    return {"type": "object", "title": f"{entry.name} answer", "required": list(properties), "properties": properties,
            "description": f"One value per item of input.{checks.of}, in its order." if checks.of else "One verdict.",
            "x-source": checks.source}
