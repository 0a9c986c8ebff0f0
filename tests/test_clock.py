"""The one clock: real, scaled and manual, moved only forward."""

import pytest

from mockserver.domain.clock import Clock


class FakeWall:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_real_clock_follows_the_wall_plus_advances():
    wall = FakeWall()
    clock = Clock("real", wall=wall)
    wall.now += 5
    assert clock.now() == pytest.approx(1005.0)
    clock.advance(3600)
    assert clock.now() == pytest.approx(4605.0)


def test_scaled_clock_runs_faster():
    wall = FakeWall()
    clock = Clock("scaled", rate=60, wall=wall)
    wall.now += 2
    assert clock.now() == pytest.approx(1120.0)


def test_manual_clock_stands_still_until_advanced():
    wall = FakeWall()
    clock = Clock("manual", start=50.0, wall=wall)
    wall.now += 100
    assert clock.now() == 50.0
    assert clock.advance(10) == 60.0


def test_set_jumps_forward_and_refuses_the_past():
    clock = Clock("manual", start=100.0, wall=FakeWall())
    assert clock.set(500.0) == 500.0
    with pytest.raises(ValueError):
        clock.set(499.0)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_switching_mode_keeps_the_reading():
    wall = FakeWall()
    clock = Clock("real", wall=wall)
    wall.now += 10
    clock.switch("manual")
    frozen = clock.now()
    wall.now += 100
    assert clock.now() == frozen
    clock.switch("scaled", rate=2)
    wall.now += 1
    assert clock.now() == pytest.approx(frozen + 2)


def test_bad_modes_and_rates_are_refused():
    with pytest.raises(ValueError):
        Clock("sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Clock("scaled", rate=0)
