"""One suite of store behaviours, run against every store (memory, SQLite, and Redis when a server is there).

Each store must answer the same calls the same way; what only a store that
leaves the process can do (roll back, be seen by a second process) is at the end.
"""

import threading

import pytest

from mockserver.store import MemoryStore
from stores import DURABLE, open_kind
from test_lanes import make_task


@pytest.fixture(params=["memory", *DURABLE])
def store(request, tmp_path):
    opened = open_kind(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=DURABLE)
def durable(request, tmp_path):
    """Two handles on one durable store, as two processes would hold."""
    first, second = open_kind(request.param, tmp_path), open_kind(request.param, tmp_path, fresh=False)
    yield first, second
    first.close()
    second.close()


def test_rate_window_allows_limit_per_second_and_recovers(store):
    assert store.hit("k", 2, 1.0, now=10.0)
    assert store.hit("k", 2, 1.0, now=10.1)
    assert not store.hit("k", 2, 1.0, now=10.5)
    assert not store.hit("k", 2, 1.0, now=10.99)
    assert store.hit("k", 2, 1.0, now=11.0)  # the first hit left the window
    assert store.hit("other", 2, 1.0, now=10.5)  # windows are per key


def test_rate_window_follows_a_changed_limit_and_zero(store):
    assert store.hit("k", 1, 1.0, now=0.0)
    assert not store.hit("k", 1, 1.0, now=0.1)
    assert store.hit("k", 3, 1.0, now=0.2)
    assert not store.hit("k", 0, 1.0, now=5.0)


def test_purge_forgets_only_finished_tasks(store):
    old, young = make_task(0, submitted=0.0), make_task(1, submitted=0.0)
    old.ended_at, young.ended_at = 10.0, 1000.0
    store.add_task(old)
    store.add_task(young)
    assert store.purge(before=500.0) == 1
    assert store.get_task("t0") is None
    assert store.get_task("t1") == young
    assert list(store.account_tasks("a")) == [young]


def test_reset_one_account(store):
    mine = make_task(0, submitted=0.0)
    theirs = make_task(1, submitted=0.0)
    theirs.account = "b"
    store.add_task(mine)
    store.add_task(theirs)
    store.hit("a|submit|m", 1, 1.0, now=0.0)
    store.reset("a")
    assert store.get_task("t0") is None and store.get_task("t1") == theirs
    assert store.hit("a|submit|m", 1, 1.0, now=0.0)  # the window was reset too


def test_a_one_account_reset_forgets_its_run_time_state_and_drop_uploads_takes_a_prefix(store):
    for account, used in (("a", 3), ("b", 4)):
        state = store.account_state(account)
        state.used["m"] = used
        store.save_account_state(account, state)
    store.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    store.put_upload("dir/b/1.png", b"2", expires_at=100.0, now=0.0)
    store.reset("a")
    assert store.account_state("a").used == {} and store.account_state("b").used == {"m": 4}
    assert store.drop_uploads("dir/a/") == 1
    assert store.get_upload("dir/a/1.png", now=1.0) is None and store.get_upload("dir/b/1.png", now=1.0) == b"2"


def test_export_then_import_into_another_store_keeps_everything_as_before(store):
    source = MemoryStore()
    tasks = [make_task(n, submitted=0.0) for n in range(3)]
    lane = source.lane("a", "m", 1)
    for task in tasks:
        lane.schedule(task, now=0.0)
        source.add_task(task)
    source.hit("a|query", 2, 1.0, now=0.0)
    source.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    source.account_state("a").used["m"] = 2
    target = store
    target.import_(source.export())
    assert list(target.account_tasks("a")) == tasks
    assert target.queue("a", "m", now=0.0) == tasks and target.lane("a", "m", 1) == lane
    assert target.export() == source.export()
    assert target.hit("a|query", 2, 1.0, now=0.5) and not target.hit("a|query", 2, 1.0, now=0.6)
    assert target.get_upload("dir/a/1.png", now=1.0) == b"1" and target.get_upload("dir/a/1.png", now=100.0) is None
    assert target.account_state("a").used == {"m": 2}


def test_a_lane_queue_holds_its_unfinished_tasks_in_submission_order(store):
    tasks = [make_task(n, submitted=float(n)) for n in range(4)]
    lane = store.lane("a", "m", 1)
    for task in tasks:
        lane.schedule(task, now=task.submitted_at)
        store.add_task(task)
    store.save_lane("a", "m", lane)
    call = make_task(9, submitted=5.0)
    call.call = True  # a synchronous call's task queues nowhere
    store.add_task(call)
    tasks[2].canceled_at = 1.0
    store.save_task(tasks[2])
    assert store.queue("a", "m", now=0.0) == [tasks[0], tasks[1], tasks[3]]
    assert store.queue("a", "m", now=10.0) == [tasks[1], tasks[3]]  # the first ended at 10
    assert store.queue("b", "m", now=0.0) == [] and store.queue("a", "other", now=0.0) == []
    assert store.lane("a", "m", 1).slots == lane.slots and [key for key, _ in store.lanes("a")] == [("a", "m")]
    assert list(store.lanes("b")) == []


def test_saves_are_what_the_next_load_sees(store):
    task = make_task(0, submitted=0.0)
    store.add_task(task)
    task.canceled_at = 3.0
    store.save_task(task)
    assert store.get_task("t0").canceled_at == 3.0
    state = store.account_state("a")
    state.requests_per_second = 7
    store.save_account_state("a", state)
    assert store.account_state("a", create=False).requests_per_second == 7
    assert store.account_state("new", create=False).requests_per_second is None
    book = store.job_book("a", 2)
    assert book.lane.concurrency == 2 and book.jobs == {}
    book.lane.concurrency = 3
    store.save_job_book("a", book)
    assert store.job_book("a", 2).lane.concurrency == 3


def test_account_ids_come_in_the_order_first_seen_and_only_queries_cost_nothing(store):
    second = make_task(1, submitted=0.0)
    second.account = "b"
    store.add_task(second)
    store.account_state("c")
    store.account_state("d", create=False)
    store.add_task(make_task(0, submitted=1.0))
    assert store.account_ids() == ["b", "a", "c"] and store.count() == 2
    assert [t.task_id for t in store.account_tasks("a", since=0.5, until=2.0)] == ["t0"]
    assert [t.task_id for t in store.tasks()] == ["t1", "t0"]


def test_shared_documents_and_boots(store):
    assert store.get_meta("clock") is None
    store.put_meta("clock", "1")
    assert store.get_meta("clock") == "1"
    assert store.add_meta("secret", "x") == "x" and store.add_meta("secret", "y") == "x"
    first = store.boot()
    assert first == 1 and store.boot() in (1, 2)  # memory: every start is the first


def test_a_failed_unit_of_work_changes_nothing(durable):
    store, _ = durable
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_task(make_task(0, submitted=0.0))
            store.hit("k", 1, 1.0, now=0.0)
            raise RuntimeError("the submit failed half-way")
    assert store.get_task("t0") is None and store.hit("k", 1, 1.0, now=0.0)


def test_a_second_process_sees_every_change(durable):
    first, second = durable
    task = make_task(0, submitted=0.0)
    lane = first.lane("a", "m", 1)
    lane.schedule(task, now=0.0)
    with first.transaction():
        first.add_task(task)
        first.save_lane("a", "m", lane)
        first.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
        first.put_meta("clock", "manual")
    assert second.get_task("t0") == task and second.queue("a", "m", now=0.0) == [task]
    assert second.lane("a", "m", 1) == lane and second.get_upload("dir/a/1.png", now=1.0) == b"1"
    assert second.get_meta("clock") == "manual" and (first.boot(), second.boot()) == (1, 2)


def test_a_burst_from_several_processes_gets_exactly_the_limit(durable, tmp_path):
    first, second = durable
    admitted = []

    def burst(store):
        for _ in range(50):
            admitted.append(store.hit("a|submit|m", 5, 1.0, now=100.0))

    threads = [threading.Thread(target=burst, args=(store,)) for store in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 5 and len(admitted) == 200
