"""One suite of store behaviours, run against every store: memory (the reference), SQLite, and Redis on a
real redis-server.

Every test runs once per store factory and asserts what the reference does;
a random sequence of calls then compares each store with the reference call
by call. What only a store shared by processes promises (a second handle sees
every change, a failed unit of work changes nothing, a burst from several
handles gets exactly the limit) is at the end, for SQLite and Redis; the
Redis store's own guarantees (its lock, its rollback) are in test_redis_shared.py.
"""

from __future__ import annotations

import copy

import random
import threading
from copy import deepcopy
from typing import Callable, Iterator

import pytest

from mockserver.domain.account_state import AccountState
from mockserver.lifecycle.job import Job
from mockserver.lifecycle.lanes import Lane
from mockserver.lifecycle.task import Outcome
from mockserver.settings.config import ModelLimits
from mockserver.store import MemoryStore, Store, open_store
from redis_server import redis_url  # noqa: F401  (the fixture)
from test_lanes import make_task

Factory = Callable[[], Store]


SHARED = ["sqlite", "redis"]


def _opened(kind: str, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """A factory of store objects over one empty state: for SQLite, handles on one new file; for Redis,
    connections to one flushed server (each handle as another process would hold it)."""
    if kind == "memory":
        store = MemoryStore()
        yield lambda: store
        return
    if kind == "sqlite":
        url = f"sqlite://{request.getfixturevalue('tmp_path') / 'store.db'}"
    else:
        url = request.getfixturevalue("redis_url")
    opened: list[Store] = []

    def make() -> Store:
        opened.append(open_store(url))
        return opened[-1]

    if kind == "redis":
        make()._redis.flushdb()  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=["memory", *SHARED])
def make_store(request: pytest.FixtureRequest) -> Iterator[Factory]:
    yield from _opened(request.param, request)


@pytest.fixture(params=SHARED)
def make_shared(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Handles on one SQLite file or Redis server, as several processes hold them."""
    yield from _opened(request.param, request)


@pytest.fixture
def store(make_store: Factory) -> Store:
    return make_store()


def task(n: int, submitted: float, account: str = "a", model: str = "m", run: float = 10.0):
    made = make_task(n, submitted=submitted, run=run)
    made.account, made.model = account, model
    return made


def submit(store: Store, made, slots: int = 1, now: float | None = None):
    """What the emulator's submit does: plan the task in its lane, save the lane, add the task."""
    with store.transaction():
        lane = store.lane(made.account, made.model, slots)
        lane.schedule(made, made.submitted_at if now is None else now)
        store.save_lane(made.account, made.model, lane)
        store.add_task(made)
    return made


# -- the contract: each store does what the reference does ------------------------------------------


def test_a_task_reads_back_field_for_field_and_a_save_is_kept(store):
    made = task(0, submitted=5.0)
    made.input, made.parameters, made.lines = {"prompt": "p"}, {"n": 2}, b"\x00\xff"
    made.image_failures, made.extra = {1: Outcome("DataInspectionFailed", "m")}, {"x": [1]}
    submit(store, made)
    assert store.get_task("t0") == made and store.get_task("nope") is None and store.count() == 1
    loaded = store.get_task("t0")
    loaded.canceled_at = 6.0
    store.save_task(loaded)
    assert store.get_task("t0").canceled_at == 6.0


def test_account_tasks_by_submission_time_keep_the_order_of_equal_times(store):
    for n, submitted in enumerate([1.0, 2.0, 2.0, 2.0, 3.0]):
        submit(store, task(n, submitted))
    submit(store, task(9, 5.0, account="b"))
    assert [t.task_id for t in store.account_tasks("a")] == ["t0", "t1", "t2", "t3", "t4"]
    assert [t.task_id for t in store.account_tasks("a", since=2.0, until=2.0)] == ["t1", "t2", "t3"]
    assert [t.task_id for t in store.account_tasks("a", since=2.5)] == ["t4"]
    assert list(store.account_tasks("nobody")) == []
    assert [t.task_id for t in store.tasks()] == ["t0", "t1", "t2", "t3", "t4", "t9"]


def test_a_restored_older_task_takes_its_place_by_time(store):
    for n, submitted in [(0, 1.0), (1, 3.0)]:
        store.add_task(task(n, submitted))
    store.add_task(task(2, 2.0))
    assert [t.task_id for t in store.account_tasks("a")] == ["t0", "t2", "t1"]


def test_account_ids_in_the_order_first_seen_and_a_query_only_key_costs_nothing(store):
    submit(store, task(0, 1.0, account="b"))
    state = store.account_state("c")
    store.account_state("ghost", create=False)
    submit(store, task(1, 2.0, account="a"))
    state.requests_per_second = 3
    store.save_account_state("c", state)
    assert store.account_ids() == ["b", "a", "c"]
    assert store.account_state("c").requests_per_second == 3 and store.account_state("ghost", create=False) == AccountState()


def test_account_state_round_trips_limits_and_usage(store):
    state = store.account_state("a")
    state.free_tier_only, state.used = True, {"m": 7}
    state.models["*"] = ModelLimits(concurrency=3)
    store.save_account_state("a", state)
    assert store.account_state("a") == state


def test_lanes_are_created_once_listed_in_order_and_filtered_by_account(store):
    lane = store.lane("b", "m", 2)
    assert lane.concurrency == 2 and lane.slots == Lane(2).slots
    lane.slots = [4.0, 5.0]
    store.save_lane("b", "m", lane)
    store.lane("a", "m", 1)
    assert store.lane("b", "m", 9).slots == [4.0, 5.0]  # an existing lane keeps its slots
    assert [key for key, _ in store.lanes()] == [("b", "m"), ("a", "m")]
    assert [(key, found.slots) for key, found in store.lanes("b")] == [(("b", "m"), [4.0, 5.0])]


def test_queue_holds_the_unfinished_tasks_in_order_never_a_call_or_a_canceled_one(store):
    first, second, third = (submit(store, task(n, 0.0)) for n in range(3))
    call = task(3, 0.0)
    call.call, call.ended_at = True, 10.0
    store.add_task(call)
    assert [t.task_id for t in store.queue("a", "m", now=0.0)] == ["t0", "t1", "t2"]
    second.canceled_at = 1.0
    store.save_task(second)
    assert [t.task_id for t in store.queue("a", "m", now=1.0)] == ["t0", "t2"]
    assert [t.task_id for t in store.queue("a", "m", now=10.0)] == ["t2"]  # t0 ended at 10
    assert store.queue("a", "m", now=30.0) == [] and store.queue("a", "other", now=0.0) == []


def test_a_job_book_round_trips_its_jobs_and_lane(store):
    book = store.job_book("a", 2)
    assert book.lane.concurrency == 2 and book.jobs == {}
    job = Job("j1", "a", "2", "m", ["f"], [], {"n_epochs": 1}, "sft", 1.0, 0.5, 60.0)
    book.lane.schedule(job, now=1.0)
    book.jobs[job.job_id] = job
    store.save_job_book("a", book)
    assert store.job_book("a", 5) == book


def test_the_rate_window_slides_follows_a_changed_limit_and_zero(store):
    assert store.hit("k", 2, 1.0, now=10.0) and store.hit("k", 2, 1.0, now=10.1)
    assert not store.hit("k", 2, 1.0, now=10.5) and not store.hit("k", 2, 1.0, now=10.99)
    assert store.hit("k", 2, 1.0, now=11.0)  # the first hit left the window
    assert store.hit("other", 2, 1.0, now=10.5)  # windows are per key
    assert not store.hit("k", 1, 1.0, now=11.05)  # lowered: only the newest hit is kept, and it is recent
    assert store.hit("k", 3, 1.0, now=11.06)
    assert not store.hit("k", 0, 1.0, now=50.0)
    assert store.hit("same", 2, 1.0, now=1.0) and store.hit("same", 2, 1.0, now=1.0)  # a standing clock
    assert not store.hit("same", 2, 1.0, now=1.0)


def test_uploads_expire_by_the_emulator_clock_and_drop_by_prefix(store):
    store.put_upload("dir/a/1.png", b"\x89PNG", expires_at=100.0, now=0.0)
    store.put_upload("dir/a/2.png", b"2", expires_at=50.0, now=0.0)
    store.put_upload("dir/b/1.png", b"3", expires_at=100.0, now=0.0)
    assert store.get_upload("dir/a/1.png", now=99.0) == b"\x89PNG" and store.get_upload("dir/a/1.png", now=100.0) is None
    assert store.get_upload("nope", now=0.0) is None
    store.put_upload("dir/c/1.png", b"4", expires_at=200.0, now=60.0)  # sweeps dir/a/2.png, expired at 50
    assert store.export().uploads.keys() == {"dir/a/1.png", "dir/b/1.png", "dir/c/1.png"}
    assert store.drop_uploads("dir/a/") == 1
    assert store.get_upload("dir/a/1.png", now=1.0) is None and store.get_upload("dir/b/1.png", now=1.0) == b"3"


def test_purge_forgets_finished_tasks_their_indexes_and_idle_lanes(store):
    old = submit(store, task(0, 0.0, account="a", run=10.0))
    young = submit(store, task(1, 0.0, account="b", run=1000.0))
    assert store.purge(before=500.0) == 1
    assert store.get_task("t0") is None and store.get_task("t1") == young and store.count() == 1
    assert list(store.account_tasks("a")) == [] and store.account_ids() == ["b"]
    assert [key for key, _ in store.lanes()] == [("b", "m")]  # a's slot freed at 10: forgotten
    old.canceled_at = 1.0
    store.save_task(old)  # a late save does not bring a purged task back
    assert store.get_task("t0") is None and store.purge(before=500.0) == 0


def test_purge_forgets_what_ended_before_however_it_ended_behind_a_backlog(store):
    """Tasks of two lanes of one account, ending out of submission order: each purge forgets exactly those whose
    end (planned, or a cancel saved since) came before its cut-off, whether an earlier purge saw them or not."""
    slow = [submit(store, task(n, float(n), model="slow", run=1000.0)) for n in range(3)]  # one slot: ends 1000, 2000, 3000
    for n in range(3):
        submit(store, task(10 + n, 5.0 + n, model="quick", run=1.0))  # ends at 6, 7, 8
    assert store.purge(before=100.0) == 3 and [t.task_id for t in store.account_tasks("a")] == ["t0", "t1", "t2"]
    slow[2].canceled_at = 150.0  # it was waiting behind the others when that purge looked at it
    store.save_task(slow[2])
    assert store.purge(before=140.0) == 0 and store.purge(before=200.0) == 1
    assert [t.task_id for t in store.account_tasks("a")] == ["t0", "t1"] and store.purge(before=200.0) == 0
    late = submit(store, task(20, 50.0, model="quick", run=1.0), now=50.0)  # submitted on a clock set back: ends at 51
    assert store.purge(before=1001.0) == 2 and store.get_task(late.task_id) is None  # and t0, ended at 1000
    assert [t.task_id for t in store.account_tasks("a")] == ["t1"] and store.count() == 1


def test_reset_one_account_forgets_its_tasks_lanes_windows_and_state_only(store):
    submit(store, task(0, 0.0, account="a"))
    submit(store, task(1, 0.0, account="b"))
    store.hit("a|submit|m", 1, 1.0, now=0.0)
    store.hit("b|submit|m", 1, 1.0, now=0.0)
    store.save_account_state("a", AccountState(used={"m": 3}))
    store.save_account_state("b", AccountState(used={"m": 4}))
    store.job_book("a", 1)
    store.put_meta("clock", "{}")
    store.reset("a")
    assert store.get_task("t0") is None and store.get_task("t1") is not None
    assert store.hit("a|submit|m", 1, 1.0, now=0.0) and not store.hit("b|submit|m", 1, 1.0, now=0.0)
    assert store.account_state("a", create=False).used == {} and store.account_state("b").used == {"m": 4}
    assert [key for key, _ in store.lanes()] == [("b", "m")] and store.queue("a", "m", now=0.0) == []
    assert store.export().job_books == {} and store.account_ids() == ["b"]
    store.reset()
    assert store.count() == 0 and store.account_ids() == [] and store.export() == MemoryStore().export()
    assert store.get_meta("clock") == "{}"  # shared documents outlive a reset


def test_export_then_import_restores_everything(make_store):
    source = make_store()
    tasks = [submit(source, task(n, float(n // 2))) for n in range(4)]
    source.hit("a|query", 2, 1.0, now=0.0)
    source.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    source.save_account_state("a", AccountState(used={"m": 2}))
    source.job_book("a", 1)
    state = deepcopy(source.export())
    source.reset()
    source.import_(state)
    assert source.export() == state
    assert list(source.account_tasks("a")) == tasks and source.queue("a", "m", now=0.0) == tasks
    assert source.hit("a|query", 2, 1.0, now=0.5) and not source.hit("a|query", 2, 1.0, now=0.6)
    assert source.get_upload("dir/a/1.png", now=1.0) == b"1"


def test_shared_documents_first_writer_wins(store):
    assert store.get_meta("secret") is None
    assert store.add_meta("secret", "one") == "one" and store.add_meta("secret", "two") == "one"
    store.put_meta("secret", "three")
    assert store.get_meta("secret") == "three"


def test_transactions_nest(store):
    with store.transaction():
        with store.transaction():
            store.put_meta("x", "1")
        store.put_meta("y", "2")
    with store.transaction():
        assert (store.get_meta("x"), store.get_meta("y")) == ("1", "2")


def test_a_random_sequence_of_calls_answers_as_the_reference_does(make_store, request):
    """The same calls on MemoryStore and the store under test, compared answer by answer."""
    reference, tested = MemoryStore(), make_store()
    rng = random.Random(13)
    now, made = 0.0, 0
    for _ in range(400):
        op = rng.choice(["submit", "submit", "cancel", "queue", "range", "hit", "purge", "upload", "reset", "look"])
        now += rng.choice([0.0, 0.0, 0.3, 1.0, 7.0])
        if op == "submit":
            new = task(made, now, account=rng.choice("ab"), model=rng.choice(["m", "n"]), run=rng.choice([1.0, 5.0, 20.0]))
            new.call = rng.random() < 0.1
            made += 1
            for store in (reference, tested):
                submit(store, deepcopy(new), slots=2, now=now)
        elif op == "cancel" and made:
            task_id = f"t{rng.randrange(made)}"
            for store in (reference, tested):
                found = store.get_task(task_id)
                if found is not None and found.canceled_at is None:
                    found.canceled_at = now
                    store.save_task(found)
        answers = [_answer(store, op, rng.getstate(), now) for store in (reference, tested)]
        assert answers[0] == answers[1], op
        rng.random()  # both answers drew from the same state; move on


def _answer(store: Store, op: str, state: object, now: float) -> object:
    rng = random.Random()
    rng.setstate(state)
    account, model = rng.choice("ab"), rng.choice(["m", "n"])
    if op == "queue":
        return [t.task_id for t in store.queue(account, model, now)]
    if op == "range":
        return [t.task_id for t in store.account_tasks(account, since=now - 10.0, until=now - 2.0)]
    if op == "hit":
        return store.hit(f"{account}|query", rng.choice([1, 2, 3]), 1.0, now)
    if op == "purge":
        return store.purge(now - 15.0)
    if op == "upload":
        store.put_upload(f"dir/{account}/{rng.randrange(3)}", b"x", now + rng.choice([1.0, 30.0]), now)
        return store.get_upload(f"dir/{account}/{rng.randrange(3)}", now)
    if op == "reset" and rng.random() < 0.2:
        store.reset(account)
    return (store.count(), store.account_ids(), [(k, lane.slots) for k, lane in store.lanes()], store.tasks())


# -- what a store shared by processes adds ---------------------------------------------------------------


def test_a_failed_unit_of_work_changes_nothing(make_shared):
    store = make_shared()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_task(task(0, submitted=0.0))
            store.hit("k", 1, 1.0, now=0.0)
            raise RuntimeError("the submit failed half-way")
    assert store.get_task("t0") is None and store.hit("k", 1, 1.0, now=0.0)


def test_a_second_process_sees_every_change(make_shared):
    first, second = make_shared(), make_shared()
    made = task(0, submitted=0.0)
    with first.transaction():
        submit(first, made)
        first.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
        first.put_meta("clock", "manual")
    assert second.get_task("t0") == made and second.queue("a", "m", now=0.0) == [made]
    assert second.lane("a", "m", 1).slots == [made.ended_at] and second.get_upload("dir/a/1.png", now=1.0) == b"1"
    assert second.get_meta("clock") == "manual" and (first.boot(), second.boot()) == (1, 2)
    changed = copy.deepcopy(made)  # the second process's own copy (the first's cache holds ``made`` itself)
    changed.canceled_at = 3.0
    second.save_task(changed)
    assert first.get_task("t0").canceled_at == 3.0  # and the first sees the second's


def test_a_task_reads_back_field_for_field_through_another_handle(make_shared):
    """Through its record, not the writer's cached object: bytes, nested outcomes and lists survive the codec."""
    first, second = make_shared(), make_shared()
    made = task(0, submitted=5.0)
    made.input, made.parameters, made.lines = {"prompt": "p"}, {"n": 2}, b"\x00\xff"
    made.image_failures, made.extra = {1: Outcome("DataInspectionFailed", "m")}, {"x": [1]}
    submit(first, made)
    read = second.get_task("t0")
    assert read == made and read is not made


def test_a_unit_of_work_reads_what_another_process_committed_since_its_request_began(make_shared):
    """Read, change, save inside a transaction: the read is of the store as of the transaction, not of the
    request's start, or the other process's change is written over."""
    first, second = make_shared(), make_shared()
    state = first.account_state("x")
    state.used = {"m": 1}
    first.save_account_state("x", state)
    first.begin_request()
    assert first.account_state("x").used == {"m": 1}  # read (and kept) early in the request
    theirs = second.account_state("x")
    theirs.used = {"m": 5}
    second.save_account_state("x", theirs)  # another process commits meanwhile
    with first.transaction():
        mine = first.account_state("x")
        mine.used = {"m": mine.used["m"] + 1}
        first.save_account_state("x", mine)
    assert second.account_state("x").used == {"m": 6}


def test_a_burst_from_several_processes_gets_exactly_the_limit(make_shared):
    handles = [make_shared() for _ in range(4)]
    admitted: list[bool] = []

    def burst(store: Store) -> None:
        for _ in range(50):
            admitted.append(store.hit("a|submit|m", 5, 1.0, now=100.0))

    threads = [threading.Thread(target=burst, args=(store,)) for store in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 5 and len(admitted) == 200
