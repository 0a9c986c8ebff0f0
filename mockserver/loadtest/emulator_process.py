"""The emulator a load test runs against: one it starts in a process of its own, or one at ``--host``.

A process of its own, not a thread of the command: the command polls the
journal for its progress line, and the emulator's capacity is what the
``capacity`` profile measures, so it gets an interpreter to itself.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import yaml

JOURNAL_SIZE = 500_000  # journal entries the started emulator keeps, so a run's are all there to check
_URL_LINE = "DASHSCOPE_HTTP_BASE_URL="


class EmulatorError(RuntimeError):
    """No emulator to test: it did not start, or ``--host`` does not answer as one."""


@contextmanager
def started(out: Path, settings: dict[str, Any], config: str | None = None) -> Iterator[str]:
    """An emulator on a free loopback port for the block; yields its base URL (``http://127.0.0.1:PORT``).

    ``settings`` are laid over ``config`` (a YAML file), and the journal is made
    big enough for the run unless the file sets ``journal_size`` itself.
    """
    document: dict[str, Any] = {}
    if config:
        with open(config, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        if not isinstance(document, dict):
            raise EmulatorError(f"{config}: the config file must be a mapping")
    document.setdefault("journal_size", JOURNAL_SIZE)
    document.update({key: value for key, value in settings.items() if value is not None})
    document.update(host="127.0.0.1", port=0)
    path = out / "emulator.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with open(out / "emulator.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--config", str(path),
                                    "--log-level", "warning"], stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            yield _url(process, out / "emulator.log")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _url(process: subprocess.Popen, log: Path) -> str:
    assert process.stdout is not None
    for line in process.stdout:  # the emulator prints the line once it listens, then nothing more
        if line.startswith(_URL_LINE):
            return line[len(_URL_LINE):].strip().removesuffix("/api/v1")
    process.wait()
    raise EmulatorError(f"the emulator did not start (exit status {process.returncode}): "
                        f"{log.read_text(encoding='utf-8').strip()[-500:]}")


def check(url: str) -> None:
    """Raise unless ``url`` is an emulator whose control plane answers this machine."""
    try:
        answer = httpx.get(f"{url.rstrip('/')}/__mock/health", timeout=10)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise EmulatorError(f"no emulator at {url}: {error}") from None
    if answer.status_code != 200:
        raise EmulatorError(f"{url}/__mock/health answered {answer.status_code}: the load test reads the "
                            "emulator's journal, so it needs its control plane (loopback, no admin_token)")
