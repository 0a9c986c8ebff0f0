"""The command line: ``python -m mockserver serve`` as a user runs it."""

import signal

import pytest
import subprocess
import sys

import httpx

from mockserver.cli import main


def test_serve_on_a_free_port_prints_the_base_url_and_stops_cleanly(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text("reject_keys: [sk-revoked]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--speed", "inf", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        process.stdout.readline()  # "listening on ..."
        line = process.stdout.readline().strip()
        assert line.startswith("DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:")
        base = line.split("=", 1)[1]
        assert not base.endswith(":0/api/v1")
        shown = dict(process.stdout.readline().split(None, 1) for _ in range(7))  # the banner: what it will do
        assert shown["clock"].startswith("real") and shown["speed"].startswith("inf: every task ends at once")
        assert shown["config"].strip() == str(config) and "any other non-empty key" in shown["accounts"]
        assert "1 rejected keys" in shown["accounts"] and shown["inputs"].startswith("fetch_inputs=loopback")
        assert shown["inspector"].strip() == f"{base.removesuffix('/api/v1')}/__mock/ui/ (from loopback clients)"
        response = httpx.post(f"{base}/services/aigc/text2image/image-synthesis",
                              headers={"Authorization": "Bearer sk-1", "X-DashScope-Async": "enable"},
                              json={"model": "wanx-v1", "input": {"prompt": "a cat"}})
        task_id = response.json()["output"]["task_id"]
        done = httpx.get(f"{base}/tasks/{task_id}", headers={"Authorization": "Bearer sk-1"}).json()
        assert done["output"]["task_status"] == "SUCCEEDED"  # --speed inf
        revoked = httpx.get(f"{base}/tasks/{task_id}", headers={"Authorization": "Bearer sk-revoked"})
        assert revoked.status_code == 401  # --config was read
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert "Traceback" not in process.stderr.read()


def test_help_explains_every_option(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--speed", "--seed", "--clock", "--clock-rate", "--public-url", "--config"):
        assert option in text


def test_bad_settings_are_reported_not_raised(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("speed: -3\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"dashscope-mock: invalid settings in {config}:\n" \
        "  `speed`: input should be greater than 0 (got -3)\n"
    assert main(["serve", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.startswith(f"dashscope-mock: cannot read the config file {tmp_path / 'missing.yaml'}: ")


@pytest.mark.parametrize("text, expected", [
    ("sped: 3\n", "`sped`: unknown setting; did you mean `speed`? (allowed here: accept_any_key, accounts,"),
    ("clock: manul\n", "`clock`: 'manul' is not allowed; did you mean `manual`? (allowed: real, scaled, manual)"),
    ("accounts:\n  - id: a\n    limits:\n      wanx-v1: {concurency: 3}\n",
     "`accounts[0].limits.wanx-v1.concurency`: unknown setting; did you mean `concurrency`? "
     "(allowed here: concurrency, free_quota, submit_per_second)"),
    ("speed: [\n", "is not valid YAML: expected the node content, but found '<stream end>' at line 2, column 1"),
    ("faults:\n  - fail: {code: InternalError.Algoo}\n",
     "`faults`: unknown error code 'InternalError.Algoo'; did you mean `InternalError.Algo`?"),
])
def test_config_errors_name_the_file_the_key_and_the_nearest_valid_name(tmp_path, capsys, text, expected):
    config = tmp_path / "mock.yaml"
    config.write_text(text)
    assert main(["serve", "--port", "0", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(config) in err
    assert "pydantic" not in err and "validation error for" not in err and "Traceback" not in err


def test_command_line_errors_name_the_option(capsys):
    assert main(["serve", "--speed", "-3"]) == 2
    assert capsys.readouterr().err == "dashscope-mock: invalid settings on the command line:\n" \
        "  --speed: input should be greater than 0 (got -3.0)\n"


def test_models_shows_a_summary_and_the_full_entry_on_request(capsys):
    import json

    assert main(["models", "wanx-v1"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("wanx-v1 — Tongyi Wanxiang text-to-image v1\n")
    assert "  limits     2 submits/s, 1 at once (per account)\n" in summary
    assert "    n             integer, 1..4, default 4\n" in summary and "null" not in summary
    assert len(summary.splitlines()) < 30
    assert main(["models", "wanx-v1", "--full"]) == 0
    full = capsys.readouterr().out
    assert full.startswith("name: wanx-v1\n") and len(full.splitlines()) > 100
    assert main(["models", "wanx-v1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["limits"]["submit_per_second"] == 2
    assert main(["models", "wanx-v2"]) == 2
    assert capsys.readouterr().err == "dashscope-mock: no model 'wanx-v2'; did you mean `wanx-v1`? " \
        "(`dashscope-mock models` lists them)\n"


def test_errors_lists_the_error_catalog(capsys):
    assert main(["errors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["status", "code", "message"]
    rows = {line.split()[1]: line for line in lines[1:] if line[:1].isdigit()}
    assert rows["Throttling.RateQuota"].startswith("429 ")
    from mockserver.catalog import default_catalog

    errors = default_catalog().errors
    assert rows.keys() == {spec.code for spec in errors}
    assert rows["InternalError.Algo"].split(None, 2)[2] == errors["InternalError.Algo"].message


def test_a_busy_port_is_reported(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
