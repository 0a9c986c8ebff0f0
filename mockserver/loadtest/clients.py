"""The clients a ``retry`` load test runs: the built-in ones by name, or any ``module:function``.

A client is called as ``generate(model, input, parameters, *, out_dir=None,
timeout_seconds=600)`` and returns one task result of the conformance adapter
contract: ``{"task_id", "status", "urls", "files", "failed", "error"}``. It reads
``DASHSCOPE_HTTP_BASE_URL`` and ``DASHSCOPE_API_KEY`` from the environment.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from conformance.clients.reference import result  # one task result of the adapter contract

from ..lifecycle.task import TERMINAL

Client = Callable[..., dict]

BUILTIN = {
    "sdk": "mockserver.loadtest.clients:sdk",
    "naive": "mockserver.loadtest.clients:naive",
    "reference": "conformance.clients.reference:generate",
}
NAIVE_ATTEMPTS = 50  # a naive client still stops somewhere: the 50th 429 in a row ends the job
NAIVE_POLL_SECONDS = 0.1


def resolve(spec: str) -> Client:
    """The client named ``spec``: ``sdk``, ``naive``, ``reference`` or ``module:function``."""
    target = BUILTIN.get(spec, spec)
    module_name, _, name = target.partition(":")
    if not module_name or not name:
        raise ValueError(f"--client {spec!r}: give a built-in name ({', '.join(BUILTIN)}) or module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--client {spec!r}: cannot import {module_name}: {error}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"--client {spec!r}: {module_name} has no function {name}")
    return function


def sdk(model: str, input: dict, parameters: dict, *, out_dir: str | None = None,
        timeout_seconds: float = 600) -> dict:
    """The official SDK as most code uses it: ``ImageSynthesis.call`` (submit, then ``wait``), then downloads.

    ``call`` never retries: a throttled submit surfaces as the SDK's own
    ``InvalidTask`` exception (``wait`` gets no task id), which the profile
    reports as the job's error. ``wait`` polls 1, 1, 2, 2, 2, 4 ... s, for at
    most ``timeout_seconds`` (its ``wait_timeout``).
    """
    import dashscope
    from dashscope import ImageSynthesis

    dashscope.base_http_api_url = os.environ["DASHSCOPE_HTTP_BASE_URL"]  # the SDK reads it only at import
    fields = dict(input)
    prompt = fields.pop("prompt", None)
    response = ImageSynthesis.call(model=model, prompt=prompt, api_key=os.environ.get("DASHSCOPE_API_KEY"),
                                   extra_input=fields or None, wait_timeout=max(1, int(timeout_seconds)),
                                   **parameters)
    output = response.output or {}
    task_id, status = output.get("task_id"), output.get("task_status")
    if response.status_code != 200:
        return result(task_id, status or "ERROR", error={"code": response.code, "message": response.message})
    if status != "SUCCEEDED":
        error = {"code": output.get("code"), "message": output.get("message", "")} if output.get("code") else None
        return result(task_id, status or "ERROR", error=error)
    items = output.get("results") or []
    urls = [item["url"] for item in items if item.get("url")]
    failed = [{"code": item["code"], "message": item.get("message", "")} for item in items if item.get("code")]
    files = download(urls, out_dir, task_id) if out_dir else []
    return result(task_id, status, urls=urls, files=files, failed=failed)


def naive(model: str, input: dict, parameters: dict, *, out_dir: str | None = None,
          timeout_seconds: float = 600) -> dict:
    """A client with no backoff: a 429 is sent again at once, polls every 0.1 s, a failed poll is repeated.

    What the ``retry`` profile compares the others against: it works, and it
    spends the account's limits on requests that can only be refused.
    """
    from ..catalog import default_catalog

    entry = default_catalog().model(model)
    route = entry.route.path if entry is not None else "/services/aigc/text2image/image-synthesis"
    base = os.environ["DASHSCOPE_HTTP_BASE_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ.get('DASHSCOPE_API_KEY', '')}"}
    deadline = time.monotonic() + timeout_seconds
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for _ in range(NAIVE_ATTEMPTS):
            answer = http.post(route, json={"model": model, "input": input, "parameters": parameters},
                               headers={"X-DashScope-Async": "enable"})
            if answer.status_code != 429:
                break
        body = _json(answer)
        if answer.status_code != 200:
            return result(None, "ERROR", error={"code": body.get("code"), "message": body.get("message")})
        task_id = body["output"]["task_id"]
        output: dict[str, Any] = {}
        while output.get("task_status") not in TERMINAL:
            if time.monotonic() > deadline:
                return result(task_id, "TIMEOUT", error={"code": "Timeout", "message": "no final status in time"})
            time.sleep(NAIVE_POLL_SECONDS)
            answer = http.get(f"/tasks/{task_id}")
            if answer.status_code == 200:
                output = _json(answer).get("output") or {}
    if output["task_status"] != "SUCCEEDED":
        return result(task_id, output["task_status"],
                      error={"code": output.get("code"), "message": output.get("message", "")})
    urls = [item["url"] for item in output.get("results", []) if item.get("url")]
    return result(task_id, "SUCCEEDED", urls=urls, files=download(urls, out_dir, task_id) if out_dir else [])


def download(urls: list[str], out_dir: str, task_id: str) -> list[str]:
    """Fetch each result image into ``out_dir``; the paths of those that arrived."""
    files = []
    with httpx.Client(timeout=30) as http:
        for index, url in enumerate(urls):
            answer = http.get(url)
            if answer.status_code == 200:
                path = Path(out_dir) / f"{task_id}-{index}.png"
                path.write_bytes(answer.content)
                files.append(str(path))
    return files


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {"code": f"HTTP{answer.status_code}", "message": answer.text[:200]}
    return body if isinstance(body, dict) else {}
