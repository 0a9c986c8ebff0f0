"""Request log lines are paced: the first ``log_lines_per_second`` of each second, and one line counting the rest."""

from __future__ import annotations

import asyncio
import logging

import httpx

from mockserver.domain.emulator import Emulator
from mockserver.http.app import create_app
from mockserver.http.edge import _left_out, _paced
from mockserver.settings.config import Settings
from mockserver.support.pacing import PerSecond


class Clock:
    """Wall-clock seconds the test sets (pacing reads the wall clock, not the emulator's)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_first_lines_of_each_second_pass_and_the_rest_are_counted_once_the_second_is_over():
    told: list[int] = []
    clock = Clock(10.2)
    paced = PerSecond(3, told.append, clock)
    assert [paced.admit() for _ in range(5)] == [True, True, True, False, False]
    assert told == []  # not before the second is over
    clock.now = 11.0
    assert paced.admit() and told == [2]
    assert [paced.admit() for _ in range(2)] == [True, True] and told == [2]  # nothing left out: nothing told
    clock.now = 12.5
    assert paced.admit() and told == [2]


def test_without_a_limit_every_line_passes():
    told: list[int] = []
    paced = PerSecond(0, told.append, Clock(1.0))
    assert all(paced.admit() for _ in range(10_000)) and told == []


def test_the_count_is_told_at_the_end_of_the_second_even_if_nothing_more_comes():
    told: list[int] = []

    async def run() -> None:
        paced = PerSecond(1, told.append, Clock(7.9995))  # the second ends in half a millisecond
        assert [paced.admit(), paced.admit(), paced.admit()] == [True, False, False]
        for _ in range(200):  # a timer's wait, not a task's
            if told:
                return
            await asyncio.sleep(0.005)

    asyncio.run(run())
    assert told == [2]


def test_a_server_logs_the_first_lines_and_counts_the_rest(caplog):
    emulator = Emulator(Settings(clock="manual", log_lines_per_second=2))
    app = create_app(emulator=emulator)
    assert _paced(emulator).per_second == 2  # from the settings
    emulator.journal.lines = PerSecond(2, _left_out, Clock(5.5))  # the same, on a wall clock that stands still

    async def polls() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            answers = [await client.get("/api/v1/tasks/none", headers={"Authorization": "Bearer sk-a"}) for _ in range(5)]
        return [answer.status_code for answer in answers]

    with caplog.at_level(logging.INFO, logger="mockserver.requests"):
        assert asyncio.run(polls()) == [200] * 5
        _paced(emulator).tell()  # the second's end, without waiting for it
    lines = [record.getMessage() for record in caplog.records if record.name == "mockserver.requests"]
    assert len(lines) == 3 and all(line.startswith("GET /api/v1/tasks/none ") for line in lines[:2])
    assert lines[2].startswith("... and 3 more requests in that second, not logged")
    assert len(emulator.journal) == 5  # the journal has them all
