"""The adapter contract: the environment an adapter gets, and the results it must print.

The last non-empty line of an adapter's stdout is a JSON **array** with one
result object per task, in any order. For a job of one task a bare object is
accepted too. ``{"unsupported": true}`` (bare or as the only element) says the
client has no such action.
"""

from __future__ import annotations

import json
from typing import Any

RESULT_KEYS = ("task_id", "status", "urls", "files", "failed", "error")
STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN", "ERROR", "TIMEOUT")


class ContractError(ValueError):
    """The adapter's output breaks the contract; the message says how."""


def environment(base_url: str, key: str, case_id: str, job: dict[str, Any]) -> dict[str, str]:
    """The variables an adapter is run with (on top of the harness's own environment)."""
    return {"DASHSCOPE_HTTP_BASE_URL": base_url, "DASHSCOPE_API_KEY": key,
            "DASHSCOPE_CONFORMANCE_CASE": case_id, "DASHSCOPE_CONFORMANCE_JOB": json.dumps(job)}


def parse(stdout: str, tasks: int) -> list[dict[str, Any]] | None:
    """The task results of the last stdout line; None when the adapter says the action is unsupported."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ContractError("the adapter printed nothing")
    try:
        value = json.loads(lines[-1])
    except ValueError:
        raise ContractError(f"the last stdout line is not JSON: {lines[-1][:200]!r}") from None
    if isinstance(value, list) and len(value) == 1 and _unsupported(value[0]) or _unsupported(value):
        return None
    if isinstance(value, dict):
        if tasks != 1:
            raise ContractError(f"a single object for a job of {tasks} tasks: print an array")
        value = [value]
    if not isinstance(value, list):
        raise ContractError(f"the last line is JSON {type(value).__name__}, not an array of results")
    if len(value) != tasks:
        raise ContractError(f"{len(value)} results for a job of {tasks} tasks")
    for result in value:
        _check(result)
    return value


def _unsupported(value: Any) -> bool:
    return isinstance(value, dict) and value.get("unsupported") is True


def _check(result: Any) -> None:
    if not isinstance(result, dict):
        raise ContractError(f"a result is {type(result).__name__}, not an object")
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ContractError(f"a result lacks {', '.join(missing)}: {json.dumps(result)[:200]}")
    if result["status"] not in STATUSES:
        raise ContractError(f"status {result['status']!r} is none of {', '.join(STATUSES)}")
    for key in ("urls", "files"):
        if not isinstance(result[key], list) or not all(isinstance(item, str) for item in result[key]):
            raise ContractError(f"{key} must be a list of strings")
    failed = result["failed"]
    if not isinstance(failed, list) or not all(isinstance(item, dict) and {"index", "code", "message"} <= set(item)
                                               for item in failed):
        raise ContractError("failed must be a list of {index, code, message}")
    error = result["error"]
    if error is not None and not (isinstance(error, dict) and {"code", "message"} <= set(error)):
        raise ContractError("error must be null or {code, message}")
