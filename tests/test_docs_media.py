"""docs/media.md's example runs as written against a live emulator (``serve --speed inf``), and the missing-PyAV hint."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import dashscope

from mockserver.results.video import INSTALL_HINT
from serving import fetch

DOC = Path(__file__).resolve().parent.parent / "docs" / "media.md"
DEFAULT_BASE = "http://127.0.0.1:8580/api/v1"


def test_the_example_runs_as_written(make_server, monkeypatch):
    server = make_server(speed=float("inf"))
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert DEFAULT_BASE in code
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(DEFAULT_BASE, server.api), str(DOC), "exec"), {})  # noqa: S102 - our own doc
    image_line, video_line = printed.getvalue().splitlines()
    assert image_line.startswith(server.url) and image_line.endswith(" 1664 928")
    assert video_line.startswith("SUCCEEDED " + server.url) and video_line.endswith(" 5")


def test_without_pyav_a_video_download_says_what_to_install(server):
    """In a fresh interpreter where ``import av`` fails, encoding raises VideoUnavailable with the install hint."""
    script = (
        "import sys; sys.modules['av'] = None\n"
        "from mockserver.results.video import VideoSpec, VideoUnavailable, render_mp4\n"
        "try:\n    render_mp4(VideoSpec('m', 64, 64, 1, 1, 0, ''))\n"
        "except VideoUnavailable as error:\n    print(error)\n"
    )
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == INSTALL_HINT
    assert "pip install 'dashscope-mock[video]'" in INSTALL_HINT


def test_the_bucket_answers_501_without_pyav(make_server, monkeypatch):
    """``import av`` fails (as on a machine without the video extra): the task runs, its download says what to install."""
    monkeypatch.setitem(sys.modules, "av", None)
    server = make_server()
    task = server.submit(model="wanx2.1-t2v-turbo", input={"prompt": "a cat"}, parameters={"size": "832*480"})
    server.advance(3600)
    output = server.query(task.json()["output"]["task_id"]).json()["output"]
    assert output["task_status"] == "SUCCEEDED"
    answer = fetch(output["video_url"])
    assert (answer.status_code, answer.text) == (501, INSTALL_HINT)
