"""The container recipe: the Dockerfile's CMD and HEALTHCHECK, run as written (images cannot be built here).

They run in a network namespace of their own (``unshare``), so the fixed port 8580 is free whatever else
runs on this machine; ``tests/container_check.py`` does the run and reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instruction(name: str) -> list[str]:
    """The exec-form (JSON array) command of a Dockerfile instruction (HEALTHCHECK: the part after CMD)."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith(name + " "):
            return json.loads(line.split("CMD", 1)[1] if name == "HEALTHCHECK" else line[len(name):])
    raise AssertionError(f"the Dockerfile has no {name}")


def test_the_dockerfile_serves_on_all_interfaces_with_a_health_check():
    assert instruction("CMD") == ["dashscope-mock", "serve", "--host", "0.0.0.0"]
    assert instruction("HEALTHCHECK") == ["python", "-m", "mockserver.healthcheck"]
    assert "EXPOSE 8580" in (ROOT / "Dockerfile").read_text()


def test_the_container_command_lines_run_as_written():
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True).returncode:
        pytest.skip("cannot make a network namespace here (unshare --net --map-root-user)")
    bin_dir = str(Path(sys.executable).parent)  # where pip put dashscope-mock, and the python the image has
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        [unshare, "--net", "--map-root-user", sys.executable, str(ROOT / "tests" / "container_check.py"),
         json.dumps(instruction("CMD")), json.dumps(instruction("HEALTHCHECK"))],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["stdout"].startswith("dashscope-mock ") and "listening on http://0.0.0.0:8580\n" in seen["stdout"]
    assert "DASHSCOPE_HTTP_BASE_URL=http://0.0.0.0:8580/api/v1" in seen["stdout"]
    assert "inspector  http://0.0.0.0:8580/__mock/ui/ (with the admin token)" in seen["stdout"]
    assert (seen["with_token"], seen["without_token"]) == (200, 401)  # the token came from the environment
    assert (seen["healthcheck"], seen["healthcheck_wrong_token"]) == (0, 1)
    assert seen["exit"] == 0 and "Traceback" not in seen["stderr"]
