"""The concurrency queue: FIFO over a lane's slots, re-planned only on a cancel or limit change."""

from mockserver.lifecycle.lanes import Lane
from mockserver.lifecycle.task import Task


def make_task(n: int, submitted: float, run: float = 10.0, pending: float = 0.0) -> Task:
    return Task(
        task_id=f"t{n}", account="a", api_key_id="1", caller_uid="2", model="m", group="g", function="f",
        request_id="r", input={}, parameters={}, image_count=1, submitted_at=submitted,
        pending_seconds=pending, run_seconds=run,
    )


def test_one_slot_runs_tasks_one_after_another():
    lane = Lane(concurrency=1)
    tasks = [make_task(i, submitted=0.0) for i in range(3)]
    for task in tasks:
        lane.schedule(task, now=0.0)
    assert [(t.scheduled_at, t.ended_at) for t in tasks] == [(0, 10), (10, 20), (20, 30)]


def test_two_slots_run_two_at_once_in_fifo_order():
    lane = Lane(concurrency=2)
    tasks = [make_task(i, submitted=0.0, run=10.0 + i) for i in range(4)]
    for task in tasks:
        lane.schedule(task, now=0.0)
    starts = [t.scheduled_at for t in tasks]
    assert starts == [0, 0, 10, 11]
    assert starts == sorted(starts)


def test_pending_delay_and_idle_lane():
    lane = Lane(concurrency=1)
    first = make_task(0, submitted=0.0, pending=0.5)
    lane.schedule(first, now=0.0)
    later = make_task(1, submitted=100.0, pending=0.5)
    lane.schedule(later, now=100.0)
    assert first.scheduled_at == 0.5
    assert later.scheduled_at == 100.5  # the slot was long free: no queueing


def test_cancel_moves_the_tasks_behind_forward():
    lane = Lane(concurrency=1)
    a, b, c = (make_task(i, submitted=0.0) for i in range(3))
    for task in (a, b, c):
        lane.schedule(task, now=0.0)
    b.canceled_at = 5.0
    assert lane.replan(5.0, [a, b, c]) == [c]  # what changed, for the store to save
    assert (a.scheduled_at, a.ended_at) == (0, 10)  # running: untouched
    assert (c.scheduled_at, c.ended_at) == (10, 20)  # takes b's place


def test_raising_the_limit_starts_waiting_tasks_now():
    lane = Lane(concurrency=1)
    a, b = make_task(0, submitted=0.0), make_task(1, submitted=0.0)
    lane.schedule(a, now=0.0)
    lane.schedule(b, now=0.0)
    lane.replan(3.0, [a, b], concurrency=2)
    assert b.scheduled_at == 3.0
    assert lane.concurrency == 2


def test_a_lane_is_idle_once_every_slot_freed():
    lane = Lane(concurrency=2)
    lane.schedule(make_task(0, submitted=0.0), now=0.0)
    assert not lane.idle_before(5.0) and lane.idle_before(10.5)
