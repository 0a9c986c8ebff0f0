"""The store's behaviours, run against MemoryStore (the reference) and RedisStore on a real redis-server.

Every test of the first part runs once per store factory and asserts what the
reference does; a random sequence of calls then compares the two call by
call. The last part is what only a shared store promises: two store objects
on one server (two "processes") see each other's writes, the rate limit is
exact under a burst from several threads each with its own connection, a
transaction excludes another store object's, two spawned processes under a
burst admit exactly the rate and the concurrency, and ``boot`` counts.
"""

from __future__ import annotations

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
from mockserver.store import MemoryStore, Store
from redis_server import redis_url  # noqa: F401  (the fixture)
from test_lanes import make_task

Factory = Callable[[], Store]


@pytest.fixture(params=["memory", "redis"])
def make_store(request) -> Iterator[Factory]:
    """A factory of store objects over one empty state (for Redis: connections to one flushed server)."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: store
        return
    from mockserver.store.redis import RedisStore

    url = request.getfixturevalue("redis_url")
    opened: list[RedisStore] = []

    def make() -> Store:
        opened.append(RedisStore(url))
        return opened[-1]

    make()._redis.flushdb()
    yield make
    for store in opened:
        store.close()


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


# -- what only a shared store promises --------------------------------------------------------------


@pytest.fixture
def open_redis(redis_url) -> Iterator[Callable[..., Store]]:  # noqa: F811
    """RedisStore objects, each with its own connections, over one flushed server (one per "process")."""
    from mockserver.store.redis import RedisStore

    opened: list[RedisStore] = []

    def open_(**options) -> RedisStore:
        opened.append(RedisStore(redis_url, **options))
        return opened[-1]

    open_()._redis.flushdb()
    yield open_
    for store in opened:
        store.close()


def test_two_store_objects_on_one_server_see_each_others_writes(open_redis):
    one, two = open_redis(), open_redis()
    made = submit(one, task(0, 1.0))
    assert two.get_task("t0") == made and [t.task_id for t in two.queue("a", "m", now=1.0)] == ["t0"]
    two.save_account_state("a", AccountState(used={"m": 1}))
    assert one.account_state("a").used == {"m": 1}
    assert two.add_meta("secret", "two's") == "two's" and one.add_meta("secret", "one's") == "two's"
    assert one.hit("a|query", 1, 1.0, now=1.0) and not two.hit("a|query", 1, 1.0, now=1.0)
    one.put_upload("dir/a/1.png", b"1", expires_at=9.0, now=1.0)
    assert two.get_upload("dir/a/1.png", now=2.0) == b"1"
    assert one.shared and two.lane("a", "m", 1).slots == [11.0]


def test_a_burst_from_several_connections_admits_exactly_the_limit(open_redis):
    stores = [open_redis() for _ in range(8)]
    admitted: list[int] = []
    start = threading.Barrier(len(stores))

    def burst(store: Store) -> None:
        start.wait()
        admitted.append(sum(store.hit("a|submit|m", 50, 1.0, now=100.0) for _ in range(25)))

    threads = [threading.Thread(target=burst, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 50  # of 200 at one instant
    assert stores[0].hit("a|submit|m", 50, 1.0, now=101.0)  # the next window opens


def test_a_transaction_excludes_every_other_store_objects_transaction(open_redis):
    """Read-modify-write of a shared counter from several "processes" loses no increment."""
    stores = [open_redis() for _ in range(4)]
    stores[0].put_meta("counter", "0")

    def add(store: Store) -> None:
        for _ in range(25):
            with store.transaction():
                store.put_meta("counter", str(int(store.get_meta("counter")) + 1))

    threads = [threading.Thread(target=add, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stores[0].get_meta("counter") == "100"


def test_a_held_lock_makes_another_store_fail_clearly_and_a_crashed_holders_lock_expires(open_redis):
    from mockserver.store.redis import StoreBusy

    holder, impatient = open_redis(lock_seconds=30.0), open_redis(wait_seconds=0.2)
    with holder.transaction():
        with pytest.raises(StoreBusy, match="held by another process") as busy:
            with impatient.transaction():
                pass
    assert busy.value.code == "InternalError"  # what the request that waited is answered with
    crashed, patient = open_redis(lock_seconds=0.3), open_redis(wait_seconds=20.0)
    crashed.transaction().__enter__()  # never left: as if its process died holding the lock
    with patient.transaction():
        patient.put_meta("after", "yes")
    assert crashed.get_meta("after") == "yes"


def test_boot_counts_every_process_start_and_a_reset_keeps_the_count_and_other_keys(open_redis):
    assert [open_redis().boot() for _ in range(3)] == [1, 2, 3]
    store = open_redis()
    store._redis.set("someone-else:key", "kept")
    submit(store, task(0, 1.0))
    store.reset()
    assert store.count() == 0 and store.boot() == 4 and store._redis.get("someone-else:key") == b"kept"


def test_a_restore_of_many_tasks_into_redis_answers_as_the_reference(open_redis):
    """A snapshot larger than one pipelined batch, made by MemoryStore, restored into Redis."""
    reference = MemoryStore()
    for n in range(2500):
        submit(reference, task(n, float(n // 3), account="ab"[n % 2], run=5.0), slots=3)
    restored = open_redis(lock_seconds=5.0)
    restored.import_(reference.export())
    assert restored.export() == reference.export()
    assert restored.queue("a", "m", now=400.0) == reference.queue("a", "m", now=400.0)
    assert restored.account_ids() == reference.account_ids() and restored.purge(100.0) == reference.purge(100.0)


def test_the_urls_options_set_the_prefix_and_the_lock_and_a_bad_one_is_a_clear_error(open_redis, redis_url):  # noqa: F811
    from mockserver.store.redis import RedisStore, StoreBusy

    ours, theirs = open_redis(), RedisStore(f"{redis_url}?prefix=team-b:&wait_seconds=0.2&lock_seconds=5")
    try:
        submit(theirs, task(0, 1.0))
        assert ours.get_task("t0") is None and theirs._redis.exists("team-b:task:t0")
        ours.reset()
        assert theirs.count() == 1  # another prefix is another state
        with theirs.transaction():
            with pytest.raises(StoreBusy):  # one prefix, one lock: waits 0.2 s, then fails
                with RedisStore(f"{redis_url}?prefix=team-b:", wait_seconds=0.2).transaction():
                    pass
            with ours.transaction():  # another prefix's lock is another lock
                pass
    finally:
        theirs.reset()
        theirs.close()
    for bad, message in [
        ("?lock_seconds=0", "lock_seconds must be a positive number"),
        ("?wait_seconds=soon", "wait_seconds must be a positive number"),
        ("?prefix=", "prefix must not be empty"),
    ]:
        with pytest.raises(ValueError, match=message):
            RedisStore(redis_url + bad)
    with pytest.raises(ValueError, match="unknown Redis store option"):
        RedisStore(redis_url, lock_second=3)


def test_over_http_an_emulator_on_redis_polls_what_it_submitted_and_a_held_lock_is_a_500_internal_error(open_redis):
    """The real app over RedisStore, through httpx's ASGI transport; another store object holds the lock."""
    import asyncio

    import httpx

    from mockserver.domain.emulator import Emulator
    from mockserver.http.app import create_app
    from mockserver.settings.config import Settings
    from mockserver.testing import API_KEY

    emulator = Emulator(Settings(clock="manual"), store=open_redis(wait_seconds=0.2))
    other = open_redis()

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(emulator=emulator))
        headers = {"Authorization": f"Bearer {API_KEY}", "X-DashScope-Async": "enable"}
        async with httpx.AsyncClient(transport=transport, base_url="http://mock", headers=headers) as client:
            body = {"model": "wanx-v1", "input": {"prompt": "a cat"}}
            submitted = await client.post("/api/v1/services/aigc/text2image/image-synthesis", json=body)
            polled = await client.get(f"/api/v1/tasks/{submitted.json()['output']['task_id']}")
            with other.transaction():
                refused = await client.post("/api/v1/services/aigc/text2image/image-synthesis", json=body)
            return submitted, polled, refused

    submitted, polled, refused = asyncio.run(run())
    task_id = submitted.json()["output"]["task_id"]
    assert polled.json()["output"]["task_status"] == "PENDING" and other.get_task(task_id).task_id == task_id
    assert refused.status_code == 500 and refused.json()["code"] == "InternalError"


def test_idle_rate_logs_are_forgotten_a_few_per_hit_so_their_memory_is_bounded(open_redis):
    store = open_redis()
    for n in range(10):
        store.hit(f"a|key{n}", 5, 1.0, now=0.0)
    assert len(store.export().windows) == 10
    for _ in range(3):  # each hit forgets up to 4 logs idle for a whole window
        store.hit("b|query", 5, 1.0, now=5.0)
    assert store.export().windows == {"b|query": (5, [5.0, 5.0, 5.0])}


def _submit_burst(url: str, first: int, count: int, start) -> None:
    """One process's burst: submits at one instant, each admitted by the rate limit, planned in one lane."""
    from mockserver.store.redis import RedisStore

    store = RedisStore(url)
    start.wait()
    for n in range(first, first + count):
        if store.hit("a|submit|m", 50, 1.0, now=0.0):
            submit(store, task(n, 0.0, run=10.0), slots=3)
    store.close()


def test_two_processes_under_a_burst_admit_exactly_the_rate_and_the_concurrency(open_redis, redis_url):  # noqa: F811
    """Real processes (spawned), each with its own store: 80 submits at one instant, 50 a second allowed,
    3 slots; the 50 admitted run three at a time, every 10 s, with no slot taken twice."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    processes = [context.Process(target=_submit_burst, args=(redis_url, 40 * p, 40, start)) for p in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]
    store = open_redis()
    starts = sorted(t.scheduled_at for t in store.tasks())
    assert len(starts) == 50 and starts == [10.0 * (n // 3) for n in range(50)]
    assert {t.account for t in store.tasks()} == {"a"} and {n < 40 for n in (int(t.task_id[1:]) for t in store.tasks())} == {True, False}


def test_a_failed_unit_of_work_is_taken_back_write_by_write(open_redis):
    store = open_redis()
    submit(store, task(0, 0.0))  # runs 0..10
    second = submit(store, task(1, 0.0))  # waits, 10..20
    store.save_account_state("a", AccountState(used={"m": 1}))
    store.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    store.put_meta("clock", "one")
    before = store.export()
    with pytest.raises(RuntimeError, match="half-way"):
        with store.transaction():
            store.add_task(task(2, 1.0))
            second.canceled_at = 1.0
            store.save_task(second)
            lane = store.lane("a", "m", 1)
            lane.slots = [99.0]
            store.save_lane("a", "m", lane)
            store.lane("a", "new", 1)
            store.account_state("b")
            store.save_account_state("a", AccountState(used={"m": 5}))
            store.job_book("a", 1)
            assert store.hit("a|submit|m", 1, 1.0, now=1.0)
            store.put_upload("dir/a/1.png", b"2", expires_at=200.0, now=1.0)
            store.put_upload("dir/a/2.png", b"3", expires_at=200.0, now=1.0)
            store.put_meta("clock", "two")
            store.add_meta("secret", "s")
            assert store.queue("a", "m", now=15.0) == []  # t0 ended, t1 canceled: both leave the queue
            raise RuntimeError("the submit failed half-way")
    after = store.export()
    assert (after.tasks, after.lanes, after.uploads, after.accounts, after.job_books) == (
        before.tasks, before.lanes, before.uploads, before.accounts, before.job_books
    )
    assert store.get_task("t2") is None and [t.task_id for t in store.queue("a", "m", now=0.0)] == ["t0", "t1"]
    assert store.hit("a|submit|m", 1, 1.0, now=1.0)  # the hit was taken back too
    assert (store.get_meta("clock"), store.get_meta("secret")) == ("one", None) and store.account_ids() == ["a"]


def test_only_the_outermost_unit_of_work_takes_back(open_redis):
    store = open_redis()
    with store.transaction():
        with pytest.raises(ValueError):
            with store.transaction():
                store.put_meta("kept", "yes")
                raise ValueError("caught inside the unit of work")
    assert store.get_meta("kept") == "yes"


def test_another_threads_lone_write_is_not_taken_back_with_a_failed_unit_of_work(open_redis):
    store = open_redis()
    with pytest.raises(RuntimeError):
        with store.transaction():
            lone = threading.Thread(target=store.hit, args=("a|query", 1, 1.0, 0.0))  # a poll: no lock taken
            lone.start()
            lone.join()
            raise RuntimeError("this unit of work fails")
    assert not store.hit("a|query", 1, 1.0, now=0.0)  # the other thread's hit still counts
