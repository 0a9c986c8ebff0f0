"""Python environments that each hold one line of the official SDK.

The test environment has the 2.0.x line; the 1.20.x line gets a virtual
environment of its own under ``.cache/`` (made once, reused after).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conformance.sdk_envs import LEGACY, sdk_python

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "sdk_driver.py"


def legacy_python() -> Path:
    """The interpreter of a venv with dashscope==1.20.14 (conformance.sdk_envs), kept under .cache/."""
    return sdk_python(LEGACY, ROOT / ".cache")


class SdkDriver:
    """A running ``sdk_driver.py``: send a command, get the SDK's answer."""

    def __init__(self, python: Path | str, base_url: str) -> None:
        self.process = subprocess.Popen(
            [str(python), str(DRIVER), base_url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
        )
        self.version = self._read()["version"]

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the SDK driver exited")
        return json.loads(line)

    def __call__(self, op: str, **arguments) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


CURRENT = sys.executable
