"""The command line: ``python -m mockserver serve`` as a user runs it."""

import signal
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
    assert "invalid settings" in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_a_busy_port_is_reported(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
