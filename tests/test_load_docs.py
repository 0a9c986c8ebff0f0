"""docs/load-testing.md's client example runs as written, under ``dashscope-mock load retry``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
DOC = Path(__file__).parent.parent / "docs" / "load-testing.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (block,) = [block for block in blocks if block.lstrip().startswith('"""myimages.py')]
    return "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines()) + "\n"


def test_the_example_client_runs_as_written(make_server, tmp_path):
    emulator = make_server(clock="real", speed=50.0)
    (tmp_path / "myimages.py").write_text(_example())
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "mockserver", "load", "retry", "--client", "myimages:generate",
                           "--users", "3", "--spawn-rate", "100", "--duration", "3s", "--stop-timeout", "20",
                           "--host", emulator.url, "--api-key", "sk-docs", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "goodput" in done.stdout and (out / "summary.json").exists()
    account = emulator.account(key="sk-docs")["account"]
    succeeded = emulator.count(account=account, route="query", task_status="SUCCEEDED")
    assert succeeded > 0 and f"succeeded {succeeded} " in done.stdout  # one final poll a job: SDK's wait stops there
    assert "errors" not in done.stdout  # it backed off instead of failing on a 429
