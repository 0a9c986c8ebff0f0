"""Virtual environments that each hold one line of the official ``dashscope`` SDK.

The SDK adapter and the tests run the 1.20.x line from one of these (the
current line is whatever the harness's own environment has). Made once,
under a lock so parallel cases wait for one install, and reused after.
``python -m conformance.sdk_envs 1.20.14`` makes one and prints its Python.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import venv
from pathlib import Path

LEGACY = "1.20.14"


def cache_dir() -> Path:
    """``$DASHSCOPE_MOCK_CACHE``, else ``~/.cache/dashscope-mock``."""
    configured = os.environ.get("DASHSCOPE_MOCK_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "dashscope-mock"


def sdk_python(version: str = LEGACY, cache: Path | None = None) -> Path:
    """The interpreter of a venv with ``dashscope==version``, made on first use."""
    home = (cache or cache_dir()) / f"sdk-{version}"
    python = home / "bin" / "python"
    marker = home / "installed"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"sdk-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            f"dashscope=={version}"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            marker.write_text(version)
    return python


if __name__ == "__main__":
    print(sdk_python(sys.argv[1] if len(sys.argv) > 1 else LEGACY))
