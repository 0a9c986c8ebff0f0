"""What only a shared store promises, on a real redis-server: RedisStore objects (each one a "process").

Two objects on one server see each other's writes; the rate limit is exact
under a burst from several threads each with its own connection; a unit of
work excludes another object's, fails clearly when it cannot get the lock,
and is taken back when it fails; two spawned processes under a burst admit
exactly the rate and the concurrency; ``boot`` counts; and the real app over
the store answers a lock it cannot get with DashScope's 500 InternalError.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest

from mockserver.domain.account_state import AccountState
from mockserver.store import MemoryStore, Store
from redis_server import redis_url  # noqa: F401  (the fixture)
from test_store_contract import submit, task

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
