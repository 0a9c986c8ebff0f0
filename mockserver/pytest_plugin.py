"""The pytest plugin (entry point ``pytest11``): the emulator as fixtures.

- ``dashscope_mock``: the session's emulator on a free port, reset before each
  test, with the admin calls (``fail_next``, ``partial``, ``throttle``,
  ``advance``, ``requests``, ``timeline`` ...);
- ``dashscope_env``: the same, with ``DASHSCOPE_HTTP_BASE_URL`` and a key set for
  the official SDK;
- ``dashscope_mock_app``: a fresh in-process app for httpx clients over ASGI;
- ``dashscope_mock_settings``: override it in a conftest.py to change the settings.
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

import pytest

from .testing import API_KEY, InProcess, MockServer, serve


@pytest.fixture(scope="session")
def dashscope_mock_settings() -> dict[str, Any]:
    """Settings of the session's emulator; override this fixture in a conftest.py to change them."""
    return {}


@pytest.fixture(scope="session")
def dashscope_mock_server(dashscope_mock_settings: dict[str, Any]) -> Iterator[MockServer]:
    with serve(**dashscope_mock_settings) as server:
        yield server


@pytest.fixture
def dashscope_mock(dashscope_mock_server: MockServer) -> MockServer:
    """The session's emulator, reset: no tasks, no journal, only the config's fault rules."""
    dashscope_mock_server.reset()
    return dashscope_mock_server


@pytest.fixture
def dashscope_env(dashscope_mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    """The emulator, with the environment (and an imported ``dashscope``) pointed at it."""
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", dashscope_mock.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", API_KEY)
    sdk = sys.modules.get("dashscope")
    if sdk is not None:  # the SDK reads the environment once, at import
        monkeypatch.setattr(sdk, "base_http_api_url", dashscope_mock.base_url, raising=False)
        monkeypatch.setattr(sdk, "api_key", API_KEY, raising=False)
    return dashscope_mock


@pytest.fixture
def dashscope_mock_app(dashscope_mock_settings: dict[str, Any]) -> InProcess:
    """A fresh in-process emulator for httpx clients: ``async with app.client() as client``."""
    return InProcess(**dashscope_mock_settings)
