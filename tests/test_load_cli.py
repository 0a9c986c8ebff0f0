"""``dashscope-mock load``'s refusals: bad options end with a clear message and a status, before anything runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mockserver.cli import main


@pytest.mark.parametrize("options, message", [
    (["--users", "0"], "'0' is not a whole number of at least 1"),
    (["--duration", "soon"], "'soon' is not a duration like 90s, 2m or 1h30m"),
    (["--duration", "0s"], "the duration must be at least 1 s"),
    (["--spawn-rate", "-1"], "'-1' is not a number above 0"),
    (["--job-timeout", "nan"], "'nan' is not a number above 0"),
])
def test_bad_options_are_refused_by_the_parser(options, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["load", "retry", *options])
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_a_client_that_cannot_be_imported(tmp_path, capsys):
    assert main(["load", "retry", "--client", "no_such_module:generate", "--out", str(tmp_path)]) == 2
    assert "--client 'no_such_module:generate': cannot import no_such_module" in capsys.readouterr().err
    assert main(["load", "retry", "--client", "generate", "--out", str(tmp_path)]) == 2
    assert "give a built-in name (sdk, naive, reference) or module:function" in capsys.readouterr().err
    assert main(["load", "retry", "--client", "json:no_such_function", "--out", str(tmp_path)]) == 2
    assert "json has no function no_such_function" in capsys.readouterr().err


def test_a_host_that_is_no_emulator(tmp_path, capsys):
    assert main(["load", "retry", "--host", "http://127.0.0.1:9", "--out", str(tmp_path)]) == 1
    assert "dashscope-mock load: no emulator at http://127.0.0.1:9" in capsys.readouterr().err
    assert main(["load", "retry", "--host", "not a url", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("model", ["no-such-model", "facechain-facedetect"])
def test_a_model_without_tasks(model, tmp_path, capsys):
    assert main(["load", "capacity", "--model", model, "--out", str(tmp_path)]) == 2
    assert f"--model '{model}' is not an asynchronous model of the catalog" in capsys.readouterr().err


def test_an_unwritable_report_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["load", "retry", "--out", str(tmp_path / "file" / "report")]) == 2
    assert "cannot write the reports to" in capsys.readouterr().err


def test_the_command_never_loads_gevent():
    """Locust monkey-patches the process that imports it: only the Locust child may."""
    code = ("import sys, mockserver.cli, mockserver.loadtest.command, mockserver.loadtest.clients; "
            "mockserver.cli._parser(); print(sorted({'locust', 'gevent'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
