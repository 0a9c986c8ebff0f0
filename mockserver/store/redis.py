"""The Redis store (``redis://host:port/db``): one state shared by emulators in several processes or hosts.

Every record is JSON text of :mod:`mockserver.store.codec` under one key
prefix (``dsmock:``), so :meth:`RedisStore.reset` deletes only ours. A unit of
work (:meth:`RedisStore.transaction`) holds a lock in Redis
(:mod:`mockserver.store.redis_transaction`), and writes go straight through
while it is held: the other processes' units of work wait, and every single
call is atomic by itself (one command, a ``MULTI`` or a Lua script of
:mod:`mockserver.store.redis_scripts`). Each write returns what it replaced,
so an exception leaving the unit of work takes its writes back before the
lock is released. The rate limit check is one script (exact across processes
without the lock); a task is read back in one ``GET``. Times follow the
emulator's clock, never Redis' expiry: a manual clock means what it does in memory.
"""

from __future__ import annotations

import json
import math
from typing import Iterable

import redis

from ..domain.account_state import AccountState
from ..lifecycle.brief import dump_brief
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.selection import TaskQuery, select
from ..lifecycle.task import Task
from . import redis_briefs, redis_bulk
from . import redis_scripts as scripts
from .base import StoreState
from .codec import dump_account, dump_job_book, dump_lane, dump_task, load_account, load_job_book, load_lane, load_task
from .redis_layout import BATCH, lane_field, number, text_of
from .redis_options import split_url
from .redis_transaction import RedisTransactions, StoreBusy

__all__ = ["RedisStore", "StoreBusy"]  # StoreBusy is what a unit of work that waited too long raises


class RedisStore(RedisTransactions):
    """The store in a Redis server, shared by every emulator pointed at it.

    ``redis://host:port/db?prefix=dsmock:&lock_seconds=10&wait_seconds=10``: ``prefix`` begins every key
    of ours; ``lock_seconds`` bounds how long a crashed holder of the lock keeps the others out;
    ``wait_seconds`` how long a transaction waits for the lock before it fails with :class:`StoreBusy`.
    Keyword arguments win over the URL's parameters.
    """

    shared = True

    def __init__(self, url: str, **options: str | float) -> None:
        url, settings = split_url(url, options)
        self._prefix = str(settings["prefix"])
        client = redis.Redis.from_url(url)
        super().__init__(client, self._k("lock"), int(float(settings["lock_seconds"]) * 1000), float(settings["wait_seconds"]))
        self._hit = client.register_script(scripts.HIT)
        self._put_upload = client.register_script(scripts.PUT_UPLOAD)
        self._add_task = client.register_script(scripts.ADD_TASK)
        self._save_task = client.register_script(scripts.SAVE_TASK)
        self._put_ordered = client.register_script(scripts.PUT_ORDERED)

    def _k(self, name: str) -> str:
        return self._prefix + name

    # -- tasks ----------------------------------------------------------------

    def add_task(self, task: Task, client: redis.client.Pipeline | None = None) -> None:
        keys = [
            self._k(f"task:{task.task_id}"), self._k("tasks"), self._k(f"account:{task.account}"), self._k("ends"),
            self._k(f"queue:{lane_field(task.account, task.model)}"), self._k("task-accounts"), self._k("seq"),
            self._k(f"briefs:{task.account}"),
        ]
        args = [
            task.task_id, dump_task(task), number(task.submitted_at), number(task.finished_at), task.account,
            "1" if task.call else "0", dump_brief(task),
        ]
        self._add_task(keys=keys, args=args, client=client)
        self._on_failure(lambda: self._forget([task]))

    def get_task(self, task_id: str) -> Task | None:
        text = self._redis.get(self._k(f"task:{task_id}"))
        return None if text is None else load_task(text)

    def save_task(self, task: Task) -> None:
        before = self._write_task(task, dump_task(task))
        if before is not None:
            self._on_failure(lambda: self._write_task(load_task(before), before))

    def _write_task(self, task: Task, text: str | bytes) -> bytes | None:
        """Replace a task's record (``text``) and brief (a purged task stays gone); return the record it replaced."""
        keys = [self._k(f"task:{task.task_id}"), self._k("ends"), self._k(f"briefs:{task.account}")]
        return self._save_task(keys=keys, args=[task.task_id, text, number(task.finished_at), dump_brief(task)])

    def _load_tasks(self, ids: list[bytes | str]) -> list[Task]:
        """The tasks of ``ids`` still held, in that order."""
        found: list[Task] = []
        for start in range(0, len(ids), BATCH):
            chunk = [self._k(f"task:{text_of(task_id)}") for task_id in ids[start : start + BATCH]]
            found += [load_task(text) for text in self._redis.mget(chunk) if text is not None]
        return found

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> Iterable[Task]:
        members = self._redis.zrangebyscore(self._k(f"account:{account}"), since, until)
        return self._load_tasks([member.split(b"|", 1)[1] for member in members])

    def list_tasks(self, account: str, query: TaskQuery) -> tuple[int, list[Task]]:
        total, page = select(redis_briefs.account_briefs(self, account, query.since, query.until), query)
        return total, self._load_tasks([brief.task_id for brief in page])

    def tasks(self) -> list[Task]:
        return self._load_tasks(self._redis.zrange(self._k("tasks"), 0, -1))

    def count(self) -> int:
        return int(self._redis.zcard(self._k("tasks")))

    def account_ids(self) -> list[str]:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._k("task-accounts"), 0, -1)
            pipe.zrange(self._k("states:order"), 0, -1)
            with_tasks, with_state = pipe.execute()
        return list(dict.fromkeys(text_of(account) for account in [*with_tasks, *with_state]))

    # -- lanes ----------------------------------------------------------------

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        field = lane_field(account, model)
        text = self._redis.hget(self._k("lanes"), field)
        if text is None:
            text = self._ordered("lanes", field, dump_lane(Lane(concurrency)), keep=True)
        return load_lane(text)

    def save_lane(self, account: str, model: str, lane: Lane) -> None:
        self._ordered("lanes", lane_field(account, model), dump_lane(lane))

    def queue(self, account: str, model: str, now: float) -> list[Task]:
        key = self._k(f"queue:{lane_field(account, model)}")
        with self.transaction():
            tasks = self._load_tasks(self._redis.lrange(key, 0, -1))
            done = 0  # finished tasks leave from the front, as MemoryStore's deque does
            while done < len(tasks) and (tasks[done].canceled_at is not None or tasks[done].ended_at <= now):
                done += 1
            if done:
                self._redis.ltrim(key, done, -1)
                self._on_failure(lambda: self._redis.lpush(key, *[task.task_id for task in reversed(tasks[:done])]))
        return [task for task in tasks[done:] if task.canceled_at is None and task.ended_at > now]

    def lanes(self, account: str | None = None) -> Iterable[tuple[tuple[str, str], Lane]]:
        found = []
        for field, text in self._ordered_items("lanes"):
            owner, model = json.loads(field)
            if account in (None, owner):
                found.append(((owner, model), load_lane(text)))
        return found

    # -- accounts and fine-tune jobs -------------------------------------------

    def account_state(self, account: str, *, create: bool = True) -> AccountState:
        text = self._redis.hget(self._k("states"), account)
        if text is not None:
            return load_account(text)
        state = AccountState()
        if create:
            return load_account(self._ordered("states", account, dump_account(state), keep=True))
        return state

    def save_account_state(self, account: str, state: AccountState) -> None:
        self._ordered("states", account, dump_account(state))

    def job_book(self, account: str, concurrency: int) -> JobBook:
        text = self._redis.hget(self._k("books"), account)
        if text is None:
            text = self._ordered("books", account, dump_job_book(JobBook(Lane(concurrency))), keep=True)
        return load_job_book(text)

    def save_job_book(self, account: str, book: JobBook) -> None:
        self._ordered("books", account, dump_job_book(book))

    def _ordered(self, name: str, field: str, value: str | bytes, keep: bool = False) -> bytes:
        """Write a record of the hash ``name``, which lists its records in the order first written; with
        ``keep``, an existing record wins. Returns the record kept."""
        keys = [self._k(name), self._k(f"{name}:order"), self._k("seq")]
        kept, before, changed = self._put_ordered(keys=keys, args=[field, value, "1" if keep else "0"])
        if changed:
            self._on_failure(
                lambda: self._drop_ordered(name, [field]) if before is None else self._ordered(name, field, before)
            )
        return kept

    def _ordered_items(self, name: str) -> list[tuple[str, bytes]]:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._k(f"{name}:order"), 0, -1)
            pipe.hgetall(self._k(name))
            order, records = pipe.execute()
        return [(text_of(field), records[field]) for field in order if field in records]

    def _drop_ordered(self, name: str, fields: list[str]) -> None:
        if fields:
            self._redis.hdel(self._k(name), *fields)
            self._redis.zrem(self._k(f"{name}:order"), *fields)

    # -- limits and uploads -----------------------------------------------------

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        keys = [self._k(f"win:{key}"), self._k("win-limits"), self._k("win-idle")]
        counted = bool(self._hit(keys=keys, args=[key, limit, number(window), number(now), self._k("win:"), number(now - window)]))
        if counted:  # taken back: the newest hit of this time (any other process' of the same time is the same)
            self._on_failure(lambda: self._redis.lrem(keys[0], -1, number(now)))
        return counted

    def put_upload(self, key: str, data: bytes, expires_at: float, now: float) -> None:
        before = self._put_upload(keys=[self._k("uploads")], args=[self._k("upload:"), key, data, number(expires_at), number(now)])
        self._on_failure(lambda: self._restore_upload(key, *before))

    def _restore_upload(self, key: str, data: bytes | None, expires_at: bytes | None) -> None:
        if data is None or expires_at is None:
            self._drop_uploads([key])
        else:
            self._redis.hset(self._k(f"upload:{key}"), mapping={"d": data, "e": expires_at})
            self._redis.zadd(self._k("uploads"), {key: float(expires_at)})

    def get_upload(self, key: str, now: float) -> bytes | None:
        data, expires_at = self._redis.hmget(self._k(f"upload:{key}"), ["d", "e"])
        if data is None or now >= float(expires_at):
            return None
        return data

    def drop_uploads(self, prefix: str) -> int:
        with self._at_once():
            gone = [name for name in map(text_of, self._redis.zrange(self._k("uploads"), 0, -1)) if name.startswith(prefix)]
            self._drop_uploads(gone)
        return len(gone)

    def _drop_uploads(self, names: list[str]) -> None:
        for start in range(0, len(names), BATCH):
            chunk = names[start : start + BATCH]
            self._redis.delete(*[self._k(f"upload:{name}") for name in chunk])
            self._redis.zrem(self._k("uploads"), *chunk)

    # -- forgetting ------------------------------------------------------------

    def _forget(self, tasks: list[Task]) -> None:
        """Delete ``tasks`` and every index entry of theirs; an account left without tasks leaves the index."""
        for start in range(0, len(tasks), BATCH):
            self._keep_lock()
            chunk = tasks[start : start + BATCH]
            ids = [task.task_id for task in chunk]
            sequences = self._redis.zmscore(self._k("tasks"), ids)
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*[self._k(f"task:{task_id}") for task_id in ids])
                pipe.zrem(self._k("tasks"), *ids)
                pipe.zrem(self._k("ends"), *ids)
                for account in dict.fromkeys(task.account for task in chunk):
                    pipe.hdel(self._k(f"briefs:{account}"), *[task.task_id for task in chunk if task.account == account])
                for task, sequence in zip(chunk, sequences):
                    if sequence is not None:
                        pipe.zrem(self._k(f"account:{task.account}"), f"{int(sequence):016d}|{task.task_id}")
                pipe.execute()
        gone = {task.task_id for task in tasks}
        for account, model in dict.fromkeys(task.lane for task in tasks if not task.call):
            key = self._k(f"queue:{lane_field(account, model)}")  # rebuilt once per lane, not searched per task
            kept = [task_id for task_id in map(text_of, self._redis.lrange(key, 0, -1)) if task_id not in gone]
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if kept:
                    pipe.rpush(key, *kept)
                pipe.execute()
        for account in dict.fromkeys(task.account for task in tasks):
            if not self._redis.exists(self._k(f"account:{account}")):
                self._redis.zrem(self._k("task-accounts"), account)

    def purge(self, before: float) -> int:
        with self._at_once():
            return redis_bulk.purge(self, before)

    def reset(self, account: str | None = None) -> None:
        with self._at_once():
            redis_bulk.reset(self, account)

    def export(self) -> StoreState:
        with self.transaction():
            return redis_bulk.export(self)

    def import_(self, state: StoreState) -> None:
        with self._at_once():
            redis_bulk.import_(self, state)

    # -- shared documents and counters ---------------------------------------------

    def get_meta(self, name: str) -> str | None:
        value = self._redis.hget(self._k("meta"), name)
        return None if value is None else text_of(value)

    def put_meta(self, name: str, value: str) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._k("meta"), name)
            pipe.hset(self._k("meta"), name, value)
            before = pipe.execute()[0]
        self._on_failure(lambda: self._meta_back(name, before))

    def add_meta(self, name: str, value: str) -> str:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self._k("meta"), name, value)
            pipe.hget(self._k("meta"), name)
            added, kept = pipe.execute()
        if added:
            self._on_failure(lambda: self._meta_back(name, None))
        return text_of(kept)

    def _meta_back(self, name: str, before: bytes | None) -> None:
        if before is None:
            self._redis.hdel(self._k("meta"), name)
        else:
            self._redis.hset(self._k("meta"), name, before)

    def boot(self) -> int:
        return int(self._redis.incr(self._k("boots")))

    def begin_request(self) -> None:  # every read goes to the server: nothing to check
        return

    def close(self) -> None:
        self._redis.close()
