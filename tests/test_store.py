"""The in-memory store: the rate window, purging and resets."""

from mockserver.store import MemoryStore
from test_lanes import make_task


def test_rate_window_allows_limit_per_second_and_recovers():
    store = MemoryStore()
    assert store.hit("k", 2, 1.0, now=10.0)
    assert store.hit("k", 2, 1.0, now=10.1)
    assert not store.hit("k", 2, 1.0, now=10.5)
    assert not store.hit("k", 2, 1.0, now=10.99)
    assert store.hit("k", 2, 1.0, now=11.0)  # the first hit left the window
    assert store.hit("other", 2, 1.0, now=10.5)  # windows are per key


def test_rate_window_follows_a_changed_limit_and_zero():
    store = MemoryStore()
    assert store.hit("k", 1, 1.0, now=0.0)
    assert not store.hit("k", 1, 1.0, now=0.1)
    assert store.hit("k", 3, 1.0, now=0.2)
    assert not store.hit("k", 0, 1.0, now=5.0)


def test_purge_forgets_only_finished_tasks():
    store = MemoryStore()
    old, young = make_task(0, submitted=0.0), make_task(1, submitted=0.0)
    old.ended_at, young.ended_at = 10.0, 1000.0
    store.add_task(old)
    store.add_task(young)
    assert store.purge(before=500.0) == 1
    assert store.get_task("t0") is None
    assert store.get_task("t1") is young
    assert list(store.account_tasks("a")) == [young]


def test_reset_one_account():
    store = MemoryStore()
    mine = make_task(0, submitted=0.0)
    theirs = make_task(1, submitted=0.0)
    theirs.account = "b"
    store.add_task(mine)
    store.add_task(theirs)
    store.hit("a|submit|m", 1, 1.0, now=0.0)
    store.reset("a")
    assert store.get_task("t0") is None and store.get_task("t1") is theirs
    assert store.hit("a|submit|m", 1, 1.0, now=0.0)  # the window was reset too


def test_a_one_account_reset_forgets_its_run_time_state_and_drop_uploads_takes_a_prefix():
    store = MemoryStore()
    store.account_state("a").used["m"] = 3
    store.account_state("b").used["m"] = 4
    store.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    store.put_upload("dir/b/1.png", b"2", expires_at=100.0, now=0.0)
    store.reset("a")
    assert store.account_state("a").used == {} and store.account_state("b").used == {"m": 4}
    assert store.drop_uploads("dir/a/") == 1
    assert store.get_upload("dir/a/1.png", now=1.0) is None and store.get_upload("dir/b/1.png", now=1.0) == b"2"


def test_export_then_import_into_another_store_keeps_everything_shared_as_before():
    source = MemoryStore()
    tasks = [make_task(n, submitted=0.0) for n in range(3)]
    lane = source.lane("a", "m", 1)
    for task in tasks:
        source.add_task(task)
        lane.schedule(task, now=0.0)
    source.hit("a|query", 2, 1.0, now=0.0)
    source.put_upload("dir/a/1.png", b"1", expires_at=100.0, now=0.0)
    source.account_state("a").used["m"] = 2
    target = MemoryStore()
    target.import_(source.export())
    assert list(target.account_tasks("a")) == tasks
    queued = target.queue("a", "m", now=0.0)
    assert queued == tasks and queued[0] is target.get_task("t0")
    assert target.hit("a|query", 2, 1.0, now=0.5) and not target.hit("a|query", 2, 1.0, now=0.6)
    assert target.get_upload("dir/a/1.png", now=1.0) == b"1" and target.get_upload("dir/a/1.png", now=100.0) is None
    assert target.account_state("a").used == {"m": 2}
