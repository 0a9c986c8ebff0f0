"""The OpenAPI 3.1 contract of the emulated API, generated from the catalog.

Every request body is a JSON Schema built from a model entry's rules; every
answer (submit, each task state, each model's finished output, errors, list,
cancel) has its schema; so do the temporary uploads (getPolicy and the OSS
PostObject it allows). Deliberately not described: the control plane
``/__mock/*`` (the emulator's own, see docs/control-plane.md) and the result
bucket's signed GET URLs (links handed out in answers, not an API). One model's schemas are built in
``openapi_models.py``.
``python -m mockserver.catalog.openapi`` rewrites
``contracts/openapi.json``; a test fails when the checked-in copy is stale.
"""

from __future__ import annotations

import json
from typing import Any

import contracts

from .. import __version__
from ..uploads.service import BUCKET as UPLOAD_BUCKET
from .loader import Catalog, default_catalog
from .openapi_media import VIDEO_USAGE, call_schema
from .openapi_models import TIME, answer_schema, ref, request_schema, succeeded_schema
from .schema import ModelEntry

OUTPUT_PATH = contracts.HERE / "openapi.json"


def schema_key(entry: ModelEntry, catalog: Catalog) -> str:
    """The name of an entry's schemas: ``wan2.6-t2i.Call`` for a model's second, synchronous route."""
    return f"{entry.name}.Call" if catalog.calls.get(entry.name) is entry else entry.name


def _sync_call(served: list[ModelEntry], auth: list[dict[str, list[str]]], operation_id: str,
               catalog: Catalog) -> dict[str, Any]:
    """The POST of a synchronous model: the answer is the output; sending X-DashScope-Async is a 403."""
    return {"post": {
        "operationId": operation_id,
        "summary": "Call (synchronous, no task): " + ", ".join(entry.name for entry in served),
        "security": auth,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [ref(f"{schema_key(entry, catalog)}.Request") for entry in served]}}}},
        "responses": {"200": {
            "description": "the finished output; what would fail a task is the 4xx itself",
            "content": {"application/json": {"schema": {  # anyOf: the models' answers share one shape
                "anyOf": [ref(f"{schema_key(entry, catalog)}.Answer") for entry in served]}}},
        }, **_errors(400, 401, 403, 404, 413, 429, 500)},
    }}


def _state(status: str, *fields: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"task_id": {"type": "string"}, "task_status": {"const": status}}
    for name in fields:
        properties[name] = TIME
    properties.update(extra or {})
    return {"type": "object", "required": list(properties), "properties": properties}


def _common_schemas() -> dict[str, Any]:
    metrics = {"type": "object", "required": ["TOTAL", "SUCCEEDED", "FAILED"],
               "properties": {key: {"type": "integer", "minimum": 0} for key in ("TOTAL", "SUCCEEDED", "FAILED")}}
    failure = {"code": {"type": "string"}, "message": {"type": "string"}}
    row_keys = ["api_key_id", "caller_parent_id", "caller_uid", "gmt_create", "model_name", "region", "request_id",
                "status", "task_id", "user_api_unique_key"]
    row = {"type": "object", "required": row_keys, "properties": {
        **{key: {"type": "string"} for key in row_keys},
        "gmt_create": {"type": "integer"}, "start_time": {"type": "integer"}, "end_time": {"type": "integer"},
    }}
    return {
        "Error": {"type": "object", "required": ["code", "message", "request_id"],
                  "properties": {**failure, "request_id": {"type": "string"}}},
        "ImageFailure": {"type": "object", "required": ["code", "message"], "properties": failure},
        "TaskMetrics": metrics,
        "Submitted": {"type": "object", "required": ["output", "request_id"], "properties": {
            "output": _state("PENDING"), "request_id": {"type": "string"}}},
        "TaskPending": _state("PENDING", "submit_time", extra={"task_metrics": ref("TaskMetrics")}),
        "TaskRunning": _state("RUNNING", "submit_time", "scheduled_time", extra={"task_metrics": ref("TaskMetrics")}),
        "TaskFailed": {**_state("FAILED", extra=failure), "properties": {
            **_state("FAILED", extra=failure)["properties"], "submit_time": TIME, "scheduled_time": TIME,
            "end_time": TIME, "task_metrics": ref("TaskMetrics")}},
        "TaskCanceled": _state("CANCELED", "submit_time", "end_time", extra={"task_metrics": ref("TaskMetrics")}),
        "TaskUnknown": _state("UNKNOWN"),
        "Usage": {"anyOf": [{"type": "object", "required": ["image_count"], "properties": {
            "image_count": {"type": "integer", "minimum": 0},
            "size": {"type": "string", "description": "wan2.6 only, with input_tokens/output_tokens/total_tokens (0)"},
            "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}},
            VIDEO_USAGE]},
        "Canceled": {"type": "object", "required": ["request_id"], "properties": {"request_id": {"type": "string"}}},
        "TaskList": {"type": "object", "required": ["total", "data", "total_page", "page_no", "request_id", "page_size"],
                     "properties": {"total": {"type": "integer"}, "data": {"type": "array", "items": row},
                                    "total_page": {"type": "integer"}, "page_no": {"type": "integer"},
                                    "request_id": {"type": "string"}, "page_size": {"type": "integer"}}},
    }


def _upload_schemas() -> dict[str, Any]:
    policy_keys = ["policy", "signature", "upload_dir", "upload_host", "expire_in_seconds", "max_file_size_mb",
                   "capacity_limit_mb", "oss_access_key_id", "x_oss_object_acl", "x_oss_forbid_overwrite"]
    data = {"type": "object", "required": policy_keys, "properties": {
        **{key: {"type": "string"} for key in policy_keys},
        "upload_host": {"type": "string", "format": "uri"},
        "expire_in_seconds": {"type": "integer", "minimum": 1},
        "max_file_size_mb": {"type": "integer", "minimum": 1},
        "capacity_limit_mb": {"type": "integer", "minimum": 0},
        "x_oss_object_acl": {"const": "private"},
        "x_oss_forbid_overwrite": {"const": "true"},
    }}
    fields = ["OSSAccessKeyId", "Signature", "policy", "key", "x-oss-object-acl", "x-oss-forbid-overwrite",
              "success_action_status", "x-oss-content-type"]
    form = {"type": "object", "required": ["OSSAccessKeyId", "Signature", "policy", "key", "file"], "properties": {
        **{name: {"type": "string"} for name in fields},
        "success_action_status": {"enum": ["200", "201", "204"]},
        "file": {"type": "string", "format": "binary"},
    }, "description": "Form fields in this order; `file` ends the form (OSS ignores fields after it)."}
    return {
        "UploadPolicy": {"type": "object", "required": ["request_id", "data"],
                         "properties": {"request_id": {"type": "string"}, "data": data}},
        "PostObjectForm": form,
        "OssError": {"type": "string", "description": "OSS's XML <Error> (Code, Message, RequestId, HostId, EC, "
                                                      "RecommendDoc); header x-oss-ec"},
    }


def _uploads(auth: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Temporary uploads: getPolicy (DashScope) and the PostObject to the upload bucket (OSS, no API key)."""
    query = [{"name": "action", "in": "query", "required": True, "schema": {"const": "getPolicy"}},
             {"name": "model", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}}]
    xml = {"application/xml": {"schema": ref("OssError")}}
    refused = {str(status): {"description": "refused, as OSS refuses", "content": xml} for status in (400, 403, 405, 409)}
    return {
        "/api/v1/uploads": {"get": {
            "operationId": "get_upload_policy", "summary": "A temporary-upload policy for local files",
            "security": auth, "parameters": query,
            "responses": {"200": {"description": "the policy; upload_host is the bucket below",
                                  "content": {"application/json": {"schema": ref("UploadPolicy")}}},
                          **_errors(400, 401, 500)},
        }},
        f"/{UPLOAD_BUCKET}": {"post": {
            "operationId": "post_object", "summary": "OSS PostObject to the upload_host getPolicy returned",
            "security": [],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("PostObjectForm")}}},
            "responses": {
                "200": {"description": "stored (success_action_status 200, what the SDK sends)"},
                "201": {"description": "stored (success_action_status 201)", "content": {
                    "application/xml": {"schema": {"type": "string"}}}},
                "204": {"description": "stored (the default)"},
                **refused,
            },
        }},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    content = {"application/json": {"schema": ref("Error")}}
    return {str(status): {"description": "a DashScope error", "content": content} for status in statuses}


def _fine_tunes(catalog: Catalog, auth: list[dict[str, list[str]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(paths, schemas)`` of the fine-tunes API: training jobs such as facechain-finetune."""
    names = sorted(catalog.fine_tunes)
    strings = {"type": "array", "items": {"type": "string", "minLength": 1}}
    request = {"type": "object", "required": ["model", "training_file_ids"], "properties": {
        "model": {"enum": names},
        "training_file_ids": {**strings, "minItems": 1, "maxItems": max(
            (entry.training_files.max_items for entry in catalog.fine_tunes.values()), default=10)},
        "validation_file_ids": {"anyOf": [strings, {"type": "null"}]},
        "hyper_parameters": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "training_type": {"type": "string"},
    }, "example": next((entry.example for entry in catalog.fine_tunes.values()), {})}
    text = {"type": "string"}
    job_keys = ["job_id", "job_name", "status", "model", "base_model", "training_file_ids", "validation_file_ids",
                "hyper_parameters", "training_type", "create_time", "workspace_id", "user_identity", "modifier",
                "creator", "group", "model_name", "max_output_cnt"]
    job = {"type": "object", "required": job_keys, "properties": {
        **{key: text for key in job_keys},
        "status": {"enum": ["PENDING", "RUNNING", "SUCCEEDED", "CANCELED"]},
        "finetuned_output": {"type": "string", "description": "the resource_id facechain-generation's resources name"},
        "training_file_ids": strings, "validation_file_ids": strings, "hyper_parameters": {"type": "object"},
        "end_time": text, "max_output_cnt": {"type": "integer"},
    }}
    page = {"type": "object", "required": ["page_no", "page_size", "total", "jobs"], "properties": {
        "page_no": {"type": "integer"}, "page_size": {"type": "integer"}, "total": {"type": "integer"},
        "jobs": {"type": "array", "items": ref("FineTuneJob")}}}

    def answer(output: dict[str, Any]) -> dict[str, Any]:
        return {"application/json": {"schema": {"type": "object", "required": ["request_id", "output"], "properties": {
            "request_id": {"type": "string"}, "output": output}}}}

    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    paging = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in (
        ("page_no", {"type": "integer", "minimum": 1}), ("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
        ("model", {"type": "string"}))]
    links = {"GetFineTune": {"operationId": "get_fine_tune", "parameters": {"job_id": "$response.body#/output/job_id"}}}
    paths = {
        "/api/v1/fine-tunes": {
            "post": {"operationId": "create_fine_tune", "summary": "Create a training job: " + ", ".join(names),
                     "security": auth,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": ref("FineTuneRequest")}}},
                     "responses": {"200": {"description": "queued (PENDING)", "content": answer(ref("FineTuneJob")),
                                           "links": links}, **_errors(400, 401, 413, 429, 500)}},
            "get": {"operationId": "list_fine_tunes", "summary": "List the account's jobs, newest first",
                    "security": auth, "parameters": paging,
                    "responses": {"200": {"description": "one page", "content": answer(page)}, **_errors(400, 401, 500)}},
        },
        "/api/v1/fine-tunes/{job_id}": {"get": {
            "operationId": "get_fine_tune", "summary": "Read one job", "security": auth, "parameters": job_id,
            "responses": {"200": {"description": "the job as it stands", "content": answer(ref("FineTuneJob"))},
                          **_errors(401, 404, 500)}}},
        "/api/v1/fine-tunes/{job_id}/cancel": {"post": {
            "operationId": "cancel_fine_tune", "summary": "Cancel a PENDING or RUNNING job", "security": auth,
            "parameters": job_id,
            "responses": {"200": {"description": "canceled", "content": answer(
                {"type": "object", "required": ["status"], "properties": {"status": {"const": "CANCELED"}}})},
                          **_errors(400, 401, 404, 413, 500)}}},
    }
    return paths, {"FineTuneRequest": request, "FineTuneJob": job}


def build(catalog: Catalog | None = None) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document, deterministic for one catalog."""
    catalog = catalog or default_catalog()
    models = sorted(catalog.served(), key=lambda entry: (entry.name, entry.mode))
    schemas = _common_schemas()
    for entry in models:
        key = schema_key(entry, catalog)
        schemas[f"{key}.Request"] = request_schema(entry)
        if entry.mode == "sync":
            schemas[f"{key}.Answer"] = call_schema(entry) if entry.output.shape == "call" else answer_schema(entry)
        else:
            schemas[f"{key}.Succeeded"] = succeeded_schema(entry)
    auth = [{"apiKey": []}]
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {}
    routes = sorted({(entry.route.service, entry.route.group, entry.route.function) for entry in models})
    for service, group, function in routes:
        served = [entry for entry in models if (entry.route.service, entry.route.group, entry.route.function)
                  == (service, group, function)]
        if served[0].mode == "sync":
            operation = f"call_{group}_{function}".replace("-", "_")
            paths[f"/api/v1/services/{service}/{group}/{function}"] = _sync_call(served, auth, operation, catalog)
            continue
        paths[f"/api/v1/services/{service}/{group}/{function}"] = {"post": {
            "operationId": f"submit_{group}_{function}".replace("-", "_"),
            "summary": "Submit a task: " + ", ".join(entry.name for entry in served),
            "security": auth,
            "parameters": [{"name": "X-DashScope-Async", "in": "header", "required": True,
                            "schema": {"const": "enable"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [ref(f"{entry.name}.Request") for entry in served]}}}},
            "responses": {"200": {
                "description": "accepted; a rule the worker checks ends the task FAILED later",
                "content": {"application/json": {"schema": ref("Submitted")}},
                "links": {"QueryTask": {"operationId": "query_task", "parameters": {"task_id": "$response.body#/output/task_id"}},
                          "CancelTask": {"operationId": "cancel_task", "parameters": {"task_id": "$response.body#/output/task_id"}}},
            }, **_errors(400, 401, 403, 404, 413, 429, 500)},
        }}
    outputs = [ref(name) for name in ("TaskPending", "TaskRunning", "TaskFailed", "TaskCanceled", "TaskUnknown")]
    outputs += [ref(f"{entry.name}.Succeeded") for entry in models if entry.mode == "async"]
    paths["/api/v1/tasks/{task_id}"] = {"get": {
        "operationId": "query_task", "summary": "Query one task", "security": auth, "parameters": [task_id],
        "responses": {"200": {"description": "the task as it stands (UNKNOWN for an unknown id)", "content": {
            "application/json": {"schema": {"type": "object", "required": ["request_id", "output"], "properties": {
                "request_id": {"type": "string"}, "output": {"anyOf": outputs}, "usage": ref("Usage")}}}}},
            **_errors(401, 429, 500)},
    }}
    paths["/api/v1/tasks/{task_id}/cancel"] = {"post": {
        "operationId": "cancel_task", "summary": "Cancel a PENDING task", "security": auth, "parameters": [task_id],
        "responses": {"200": {"description": "canceled", "content": {"application/json": {"schema": ref("Canceled")}}},
                      **_errors(400, 401, 429, 500)},
    }}
    query = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in (
        ("task_id", {"type": "string"}), ("start_time", {"type": "string", "pattern": r"^\d{14}$"}),
        ("end_time", {"type": "string", "pattern": r"^\d{14}$"}), ("model_name", {"type": "string"}),
        ("status", {"enum": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"]}),
        ("page_no", {"type": "integer", "minimum": 1}), ("page_size", {"type": "integer", "minimum": 1, "maximum": 100}))]
    paths["/api/v1/tasks"] = {"get": {
        "operationId": "list_tasks", "summary": "List the account's tasks (a window of at most 24 h)",
        "security": auth, "parameters": query,
        "responses": {"200": {"description": "one page", "content": {"application/json": {"schema": ref("TaskList")}}},
                      **_errors(400, 401, 429, 500)},
    }}
    paths.update(_uploads(auth))
    schemas.update(_upload_schemas())
    fine_tune_paths, fine_tune_schemas = _fine_tunes(catalog, auth)
    paths.update(fine_tune_paths)
    schemas.update(fine_tune_schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "DashScope asynchronous image tasks (as dashscope-mock emulates them)", "version": __version__,
                 "description": "Generated from contracts/ by mockserver.catalog.openapi; do not edit by hand."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
    }


def render(catalog: Catalog | None = None) -> str:
    return json.dumps(build(catalog), ensure_ascii=False, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    OUTPUT_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT_PATH}")
