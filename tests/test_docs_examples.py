"""The documentation's examples, run as written: a user copies them, so they must work.

- The Python blocks with tests in them (README.md, docs/control-plane.md) become one test module per
  document, in the order they appear (later blocks may use what earlier ones define), run by pytest with
  the installed plugin, as a user's suite runs.
- The README's SDK snippet runs against an emulator (its address put in place of the documented
  ``127.0.0.1:8580``, which another program may hold on this machine).
- The README's configuration file loads; its compose snippet agrees with the Dockerfile and the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from mockserver.cli import ADMIN_TOKEN_ENV
from mockserver.settings.config import Settings
from mockserver.testing import serve

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_ADDRESS = "http://127.0.0.1:8580"


def blocks(document: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of a Markdown file (indented ones too), dedented."""
    text = (ROOT / document).read_text(encoding="utf-8")
    pattern = re.compile(rf"^([ \t]*)```{language}\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(match.group(2)) for match in pattern.finditer(text)]


def test_the_documented_pytest_examples_pass(pytester):
    expected = 0
    for document in ("README.md", "docs/control-plane.md"):
        tests = [block for block in blocks(document, "python") if "def test_" in block]
        assert tests, f"{document} has no pytest example"
        expected += sum(block.count("def test_") for block in tests)
        pytester.makepyfile(**{f"test_{Path(document).stem.replace('-', '_')}": "\n\n".join(tests)})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=expected)


def test_the_readme_sdk_snippet_runs():
    (snippet,) = [block for block in blocks("README.md", "python") if "def test_" not in block]
    assert DOCUMENTED_ADDRESS in snippet
    with serve() as mock:
        code = snippet.replace(DOCUMENTED_ADDRESS, mock.url)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    status, urls = run.stdout.split(" ", 1)
    # wanx-v1's images land in the Beijing or the Shanghai bucket, as captured (docs/captures.md)
    assert status == "SUCCEEDED" and len(re.findall(rf"'{re.escape(mock.url)}/dashscope-result-(?:bj|sh)/", urls)) == 4


def test_the_readme_config_file_loads():
    configs = [block for block in blocks("README.md", "yaml") if "services:" not in block]
    assert configs
    for config in configs:
        settings = Settings.model_validate(yaml.safe_load(config))
        assert settings.accounts and settings.reject_keys


def test_the_compose_snippet_matches_the_recipe():
    (compose,) = [yaml.safe_load(block) for block in blocks("README.md", "yaml") if "services:" in block]
    service = compose["services"]["dashscope-mock"]
    assert service["build"] == "." and (ROOT / "Dockerfile").exists()
    assert "8580:8580" in service["ports"] and "EXPOSE 8580" in (ROOT / "Dockerfile").read_text()
    assert ADMIN_TOKEN_ENV in service["environment"]
    client = next(value for name, value in compose["services"].items() if name != "dashscope-mock")
    assert client["environment"]["DASHSCOPE_HTTP_BASE_URL"] == "http://dashscope-mock:8580/api/v1"
    assert client["depends_on"]["dashscope-mock"]["condition"] == "service_healthy"


def test_the_documented_rule_and_account_change_are_accepted():
    rule, answer, change = blocks("docs/control-plane.md", "json")[:3]
    with serve(clock="manual") as mock:
        armed = mock.add_rule(**json.loads(rule))
        assert armed["http"]["code"] == "ModelUnavailable" and armed["remaining"] == 3
        key = "sk-docs"
        documented = json.loads(answer)
        shown = mock.account(key=key, model="wanx-v1")
        assert shown.keys() == documented.keys()
        assert shown["models"]["wanx-v1"].keys() == documented["models"]["wanx-v1"].keys()
        changed = mock.set_account(key=key, **json.loads(change))
        assert changed["requests_per_second"] == 5 and changed["models"]["wanx-v1"]["remaining"] == 2


def test_the_store_commands_are_valid_settings():
    """docs/stores.md's commands parse and make valid settings (the SQLite ones are run by test_durable_store)."""
    from mockserver.cli import _parser, _settings

    commands = [line.split("#", 1)[0].split() for line in blocks("docs/stores.md", "sh")[0].splitlines() if line.strip()]
    assert len(commands) == 4 and all(command[:2] == ["dashscope-mock", "serve"] for command in commands)
    for command in commands:
        settings = _settings(_parser().parse_args(command[1:]))
        assert settings.store in ("sqlite:///var/tmp/dsmock.db", "redis://127.0.0.1:6379/0")
    assert _settings(_parser().parse_args(commands[1][1:])).workers == 4
