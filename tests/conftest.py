"""Shared fixtures: a real emulator on loopback, started per test with the settings it needs."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from serving import LiveServer, start_server


@pytest.fixture
def make_server() -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def make(**settings) -> LiveServer:
        server = start_server(**settings)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server) -> LiveServer:
    """An emulator with a manual clock: tasks move only when the test advances it."""
    return make_server()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    """One emulator (manual clock) for a whole module whose tests keep to accounts of their own."""
    server = start_server()
    yield server
    server.stop()
