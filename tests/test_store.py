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
