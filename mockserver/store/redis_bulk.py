"""The Redis store's bulk calls: purge, reset, and a snapshot's export and import.

Each runs inside the store's lock and is applied at once (a unit of work that
fails afterwards does not take it back); many records go in batches of
:data:`~mockserver.store.redis_layout.BATCH`, the lock kept alive between them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .base import StoreState
from .codec import load_account, load_job_book, load_lane
from .redis_layout import BATCH, number, text_of

if TYPE_CHECKING:
    from .redis import RedisStore

KEPT = ("meta", "boots", "seq", "lock")  # what a full reset keeps: shared documents, counters, the lock


def purge(store: RedisStore, before: float) -> int:
    """Forget the tasks finished before ``before``, and the lanes idle since then (they plan like new ones)."""
    ends = store._redis.zrangebyscore(store._k("ends"), "-inf", f"({number(before)}")
    store._forget(store._load_tasks(ends))
    idle = [field for field, text in store._ordered_items("lanes") if load_lane(text).idle_before(before)]
    store._drop_ordered("lanes", idle)
    return len(ends)


def reset(store: RedisStore, account: str | None = None) -> None:
    """Forget everything of ours but the shared documents and counters, or everything of one account."""
    if account is None:
        kept = {store._k(name).encode() for name in KEPT}
        pattern = _glob_escape(store._prefix) + "*"
        doomed = [key for key in store._redis.scan_iter(match=pattern, count=BATCH) if key not in kept]
        for start in range(0, len(doomed), BATCH):
            store._keep_lock()
            store._redis.unlink(*doomed[start : start + BATCH])
        return
    ids = [member.split(b"|", 1)[1] for member in store._redis.zrange(store._k(f"account:{account}"), 0, -1)]
    store._forget(store._load_tasks(ids))
    fields = [field for field, _ in store._ordered_items("lanes") if json.loads(field)[0] == account]
    store._drop_ordered("lanes", fields)  # their queues went with their tasks
    windows = [name for name in map(text_of, store._redis.hkeys(store._k("win-limits"))) if name.startswith(f"{account}|")]
    if windows:
        store._redis.delete(*[store._k(f"win:{name}") for name in windows])
        store._redis.hdel(store._k("win-limits"), *windows)
        store._redis.zrem(store._k("win-idle"), *windows)
    store._drop_ordered("states", [account])
    store._drop_ordered("books", [account])


def export(store: RedisStore) -> StoreState:
    """Everything held, as plain objects (inside the store's lock)."""
    windows = {}
    for name, limit in store._redis.hgetall(store._k("win-limits")).items():
        hits = store._redis.lrange(store._k(f"win:{text_of(name)}"), 0, -1)
        windows[text_of(name)] = (int(limit), [float(hit) for hit in hits])
    uploads = {}
    for name in map(text_of, store._redis.zrange(store._k("uploads"), 0, -1)):
        data, expires_at = store._redis.hmget(store._k(f"upload:{name}"), ["d", "e"])
        uploads[name] = (data, float(expires_at))
    return StoreState(
        tasks=store.tasks(),
        lanes={tuple(json.loads(field)): load_lane(text) for field, text in store._ordered_items("lanes")},
        windows=windows,
        uploads=uploads,
        accounts={account: load_account(text) for account, text in store._ordered_items("states")},
        job_books={account: load_job_book(text) for account, text in store._ordered_items("books")},
    )


def import_(store: RedisStore, state: StoreState) -> None:
    """Replace everything held with ``state`` (inside the store's lock, which it keeps alive)."""
    reset(store)
    tasks = sorted(state.tasks, key=lambda task: task.submitted_at)
    for start in range(0, len(tasks), BATCH):  # pipelined: a restore of many tasks takes seconds
        store._keep_lock()
        with store._redis.pipeline(transaction=False) as pipe:
            for task in tasks[start : start + BATCH]:
                store.add_task(task, client=pipe)
            pipe.execute()
    for (account, model), lane in state.lanes.items():
        store.save_lane(account, model, lane)
    for key, (limit, hits) in state.windows.items():
        store._redis.hset(store._k("win-limits"), key, limit)
        kept = hits[-limit:] if limit > 0 else []
        if kept:
            store._redis.rpush(store._k(f"win:{key}"), *map(number, kept))
            store._redis.zadd(store._k("win-idle"), {key: kept[-1]})
    for key, (data, expires_at) in state.uploads.items():
        store._redis.hset(store._k(f"upload:{key}"), mapping={"d": data, "e": number(expires_at)})
        store._redis.zadd(store._k("uploads"), {key: expires_at})
    for account, account_state in state.accounts.items():
        store.save_account_state(account, account_state)
    for account, book in state.job_books.items():
        store.save_job_book(account, book)


def _glob_escape(text: str) -> str:
    """``text`` matched literally by Redis' glob patterns (SCAN MATCH)."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
