"""The adapter of the official ``dashscope`` Python SDK, either line (2.0.x or 1.20.x).

It uses the SDK the way its README does: ``ImageSynthesis.async_call`` then
``ImageSynthesis.wait`` (``cancel`` for the cancel action), and downloads the
result URLs with the standard library. No deadline of its own: the SDK's
``wait()`` has none, and the report should say so.

``python -m conformance.adapters.dashscope_sdk`` uses the SDK installed here;
``... --sdk 1.20.14`` re-runs this file in a managed venv holding that version
(``conformance.sdk_envs``). The file itself needs only the SDK and the
standard library, so it runs in such a venv as it is.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit


def _reexec() -> None:
    """With ``--sdk VERSION`` and another version here: run this file in that version's venv."""
    if "--sdk" not in sys.argv:
        return
    wanted = sys.argv[sys.argv.index("--sdk") + 1]
    try:
        here = version("dashscope")
    except Exception:
        here = None
    if here != wanted:
        from conformance.sdk_envs import sdk_python

        python = str(sdk_python(wanted))
        os.execv(python, [python, os.path.abspath(__file__)])


def _plain(response) -> dict:
    """The SDK's response as JSON data (its str() is JSON in both lines)."""
    return json.loads(str(response))


def _result(task_id, status, urls=(), files=(), failed=(), error=None) -> dict:
    return {"task_id": task_id, "status": status, "urls": list(urls), "files": list(files),
            "failed": list(failed), "error": error}


def _error(response: dict) -> dict:
    code = response.get("code") or response.get("status_code")
    return {"code": str(code), "message": str(response.get("message") or "")}


def _submit(job: dict):
    """``(the SDK's response, task id)``, or ``(None, an ERROR result)`` when the submit was refused."""
    from dashscope import ImageSynthesis

    parameters = dict(job.get("parameters") or {})
    submitted = ImageSynthesis.async_call(model=job["model"], prompt=job["input"].get("prompt"), **parameters)
    answer = _plain(submitted)
    if answer.get("status_code") != 200:
        return None, _result(None, "ERROR", error=_error(answer))
    return submitted, answer["output"]["task_id"]


def generate(job: dict) -> dict:
    from dashscope import ImageSynthesis

    submitted, task_id = _submit(job)
    if submitted is None:
        return task_id  # the refusal
    done = _plain(ImageSynthesis.wait(submitted))
    if done.get("status_code") != 200:
        return _result(task_id, "ERROR", error=_error(done))
    output = done.get("output") or {}
    status = output.get("task_status")
    if status != "SUCCEEDED":
        error = {"code": output["code"], "message": output.get("message", "")} if output.get("code") else None
        return _result(task_id, status, error=error)
    urls, files, failed = [], [], []
    for index, item in enumerate(output.get("results") or []):
        if item.get("url"):
            urls.append(item["url"])
            saved = _download(item["url"], job.get("out_dir"), index, failed)
            if saved:
                files.append(saved)
        else:
            failed.append({"index": index, "code": item.get("code"), "message": item.get("message")})
    return _result(task_id, status, urls, files, sorted(failed, key=lambda item: item["index"]))


def _download(url: str, out_dir, index: int, failed: list):
    if not out_dir:
        return None
    target = Path(out_dir) / (Path(urlsplit(url).path).name or f"image-{index}.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            target.write_bytes(answer.read())
        return str(target)
    except (urllib.error.URLError, OSError) as error:
        failed.append({"index": index, "code": "DownloadFailed", "message": str(error)})
        return None


def cancel(job: dict) -> dict:
    from dashscope import ImageSynthesis

    submitted, task_id = _submit(job)
    if submitted is None:
        return task_id  # the refusal
    canceled = _plain(ImageSynthesis.cancel(submitted))
    refusal = None if canceled.get("status_code") == 200 else _error(canceled)
    fetched = _plain(ImageSynthesis.fetch(submitted))
    status = (fetched.get("output") or {}).get("task_status") or "ERROR"
    return _result(task_id, status, error=refusal)


def _caught(action, job: dict) -> dict:
    """What the caller sees when the SDK raises (a reset, a cut answer): ERROR with the exception."""
    try:
        return action(job)
    except Exception as error:
        return _result(None, "ERROR", error={"code": type(error).__name__, "message": str(error)[:300]})


def main() -> None:
    job = json.loads(os.environ["DASHSCOPE_CONFORMANCE_JOB"])
    action = generate if job["action"] == "generate" else cancel
    with ThreadPoolExecutor(max_workers=int(job.get("tasks", 1))) as pool:
        results = list(pool.map(lambda _: _caught(action, job), range(int(job.get("tasks", 1)))))
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    _reexec()
    main()
