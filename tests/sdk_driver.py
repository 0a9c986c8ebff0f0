"""Drives the official ``dashscope`` SDK, whichever version this interpreter has.

Runs in its own process (one environment holds one SDK version): reads one
JSON command per line on stdin, runs that ``ImageSynthesis`` (or ``FineTunes``, ``MultiModalConversation``) call against the
base URL given as argv[1], and answers one JSON line with what the SDK returned.
Uses nothing but the SDK and the standard library.
"""

import json
import sys
from importlib.metadata import version

import dashscope
from dashscope import ImageSynthesis

dashscope.base_http_api_url = sys.argv[1]


def _plain(value):
    """The SDK's FineTune objects (whose str() is not JSON) as plain JSON values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "__dict__"):
        return {key: _plain(item) for key, item in vars(value).items() if not key.startswith("_")}
    return value


def run(command: dict) -> dict:
    op = command.pop("op")
    if op in ("call", "async_call"):
        response = getattr(ImageSynthesis, op)(**command)
    elif op in ("fetch", "wait", "cancel"):
        response = getattr(ImageSynthesis, op)(command["task"], api_key=command["api_key"])
    elif op == "list":
        response = ImageSynthesis.list(**command)
    elif op == "multimodal_call":  # the synchronous image route
        response = dashscope.MultiModalConversation.call(**command)
    elif op == "finetune_call":
        return _plain(dashscope.FineTunes.call(**command))
    elif op == "finetune_get":
        return _plain(dashscope.FineTunes.get(command["job_id"], api_key=command["api_key"]))
    else:
        raise ValueError(op)
    return json.loads(str(response))


def main() -> None:
    print(json.dumps({"version": version("dashscope")}), flush=True)
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as error:  # the test asserts on what the SDK raised
            answer = {"exception": type(error).__name__, "text": str(error)}
        print(json.dumps(answer, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
