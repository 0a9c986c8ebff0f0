"""Running ``dashscope-mock load`` as the user does, in a process of its own, against a test's emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent


def load(profile: str, host: str, out: Path, *options: str) -> dict[str, Any]:
    """Run the profile to its end (Locust and gevent stay in the child) and return its summary.json."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "mockserver", "load", profile, "--host", host, "--out", str(out),
                           *options], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr + (out / "locust.log").read_text()[-3000:]
    return json.loads((out / "summary.json").read_text())
