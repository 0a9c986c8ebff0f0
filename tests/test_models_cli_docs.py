"""``dashscope-mock models`` and the generated models table of the docs."""

from __future__ import annotations

import subprocess
import sys

import yaml

from mockserver.catalog import default_catalog
from mockserver.catalog.table import README_PATH, readme_table, markdown

CATALOG = default_catalog()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=60)


def test_models_lists_every_model_with_route_limits_and_price():
    result = _cli("models")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(lines) == set(CATALOG.models)
    assert lines["wanx-v1"][1:7] == ["/services/aigc/text2image/image-synthesis", "async", "2", "1", "0.16", "500"]
    assert lines["image-out-painting"][3:5] == ["2", "5"]
    assert lines["flux-dev"][3] == "2*"  # a decision is marked


def test_models_name_full_shows_the_whole_entry():
    result = _cli("models", "wanx-style-repaint-v1", "--full")
    assert result.returncode == 0, result.stderr
    entry = yaml.safe_load(result.stdout)
    assert entry["route"] == {"group": "image-generation", "function": "generation", "service": "aigc"}
    assert entry["output"]["extra"] == {"error_code": 0, "error_message": "Success"}


def test_models_unknown_name_is_a_clear_error():
    result = _cli("models", "no-such-model")
    assert result.returncode == 2
    assert "no model 'no-such-model'" in result.stderr and "Traceback" not in result.stderr


def test_readme_table_is_current():
    assert readme_table(README_PATH.read_text(encoding="utf-8")) == markdown(CATALOG), (
        "the README's model table is stale: run python -m mockserver.catalog.table"
    )
