"""The Redis store (``redis://host:port/db``): one state shared by emulators in several processes or hosts.

Every record is JSON text of :mod:`mockserver.store.codec` under one key
prefix (``dsmock:``), so :meth:`RedisStore.reset` deletes only ours. A unit of
work (:meth:`RedisStore.transaction`) holds a lock in Redis (``SET NX PX`` with
a token of ours, released by a script that checks it), and writes go straight
through while it is held: the other processes' transactions wait, and every
single call is atomic by itself (one command, a ``MULTI`` or a Lua script of
:mod:`mockserver.store.redis_scripts`). The rate limit check is one script, so
it is exact across processes without the lock. A task is read back in one
``GET``. Times follow the emulator's clock, never Redis' own expiry, so a
manual clock means the same here as in memory.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Iterator

import redis

from ..domain.account_state import AccountState
from ..domain.errors import ApiError
from ..lifecycle.job import JobBook
from ..lifecycle.lanes import Lane
from ..lifecycle.task import Task
from . import redis_scripts as scripts
from .base import StoreState
from .codec import dump_account, dump_job_book, dump_lane, dump_task, load_account, load_job_book, load_lane, load_task
from .redis_options import split_url

_BATCH = 1000  # records per MGET or pipeline when a call reads or writes many
_KEPT = ("meta", "boots", "seq", "lock")  # what a full reset keeps: shared documents, counters, the lock


class StoreBusy(ApiError):
    """Another process held the Redis store's lock for longer than we may wait.

    The request that waited is answered as DashScope answers a failure of its own back end (500
    ``InternalError``, which clients retry), never with a traceback; ``str()`` says what happened.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("InternalError")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


def _lane_field(account: str, model: str) -> str:
    return json.dumps([account, model])


def _number(value: float) -> str:
    """A float as text that Redis and Lua parse back to the same double (``repr`` round-trips)."""
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """The store in a Redis server, shared by every emulator pointed at it.

    ``redis://host:port/db?prefix=dsmock:&lock_seconds=30&wait_seconds=10``: ``prefix`` begins every key
    of ours; ``lock_seconds`` bounds how long a crashed holder of the lock keeps the others out;
    ``wait_seconds`` how long a transaction waits for the lock before it fails with :class:`StoreBusy`.
    Keyword arguments win over the URL's parameters.
    """

    shared = True

    def __init__(self, url: str, **options: str | float) -> None:
        url, settings = split_url(url, options)
        self._redis = redis.Redis.from_url(url)
        self._prefix = str(settings["prefix"])
        self._lock_ms = int(float(settings["lock_seconds"]) * 1000)
        self._wait = float(settings["wait_seconds"])
        self._local = threading.RLock()  # threads of this process take turns; only the outermost locks Redis
        self._depth = 0
        self._token = b""
        self._hit = self._redis.register_script(scripts.HIT)
        self._put_upload = self._redis.register_script(scripts.PUT_UPLOAD)
        self._add_task = self._redis.register_script(scripts.ADD_TASK)
        self._put_ordered = self._redis.register_script(scripts.PUT_ORDERED)
        self._unlock = self._redis.register_script(scripts.UNLOCK)
        self._refresh = self._redis.register_script(scripts.REFRESH)

    def _k(self, name: str) -> str:
        return self._prefix + name

    # -- the unit of work -----------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                self._token = self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unlock(keys=[self._k("lock")], args=[self._token])

    def _acquire(self) -> bytes:
        token = os.urandom(16).hex().encode()
        deadline = time.monotonic() + self._wait
        pause = 0.0005
        while not self._redis.set(self._k("lock"), token, nx=True, px=self._lock_ms):
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the Redis store's lock ({self._k('lock')}) stayed held by another process for {self._wait:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return token

    # -- tasks ----------------------------------------------------------------

    def add_task(self, task: Task, client: redis.client.Pipeline | None = None) -> None:
        keys = [
            self._k(f"task:{task.task_id}"), self._k("tasks"), self._k(f"account:{task.account}"), self._k("ends"),
            self._k(f"queue:{_lane_field(task.account, task.model)}"), self._k("task-accounts"), self._k("seq"),
        ]
        args = [
            task.task_id, dump_task(task), _number(task.submitted_at), _number(task.finished_at), task.account,
            "1" if task.call else "0",
        ]
        self._add_task(keys=keys, args=args, client=client)

    def get_task(self, task_id: str) -> Task | None:
        text = self._redis.get(self._k(f"task:{task_id}"))
        return None if text is None else load_task(text)

    def save_task(self, task: Task) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k(f"task:{task.task_id}"), dump_task(task), xx=True)  # a purged task stays gone
            pipe.zadd(self._k("ends"), {task.task_id: task.finished_at}, xx=True)
            pipe.execute()

    def _load_tasks(self, ids: list[bytes | str]) -> list[Task]:
        """The tasks of ``ids`` still held, in that order."""
        found: list[Task] = []
        for start in range(0, len(ids), _BATCH):
            chunk = [self._k(f"task:{_text(task_id)}") for task_id in ids[start : start + _BATCH]]
            found += [load_task(text) for text in self._redis.mget(chunk) if text is not None]
        return found

    def account_tasks(self, account: str, since: float = -math.inf, until: float = math.inf) -> Iterable[Task]:
        members = self._redis.zrangebyscore(self._k(f"account:{account}"), since, until)
        return self._load_tasks([member.split(b"|", 1)[1] for member in members])

    def tasks(self) -> list[Task]:
        return self._load_tasks(self._redis.zrange(self._k("tasks"), 0, -1))

    def count(self) -> int:
        return int(self._redis.zcard(self._k("tasks")))

    def account_ids(self) -> list[str]:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._k("task-accounts"), 0, -1)
            pipe.zrange(self._k("states:order"), 0, -1)
            with_tasks, with_state = pipe.execute()
        return list(dict.fromkeys(_text(account) for account in [*with_tasks, *with_state]))

    # -- lanes ----------------------------------------------------------------

    def lane(self, account: str, model: str, concurrency: int) -> Lane:
        field = _lane_field(account, model)
        text = self._redis.hget(self._k("lanes"), field)
        if text is None:
            text = self._ordered("lanes", field, dump_lane(Lane(concurrency)), keep=True)
        return load_lane(text)

    def save_lane(self, account: str, model: str, lane: Lane) -> None:
        self._ordered("lanes", _lane_field(account, model), dump_lane(lane))

    def queue(self, account: str, model: str, now: float) -> list[Task]:
        key = self._k(f"queue:{_lane_field(account, model)}")
        with self.transaction():
            tasks = self._load_tasks(self._redis.lrange(key, 0, -1))
            done = 0  # finished tasks leave from the front, as MemoryStore's deque does
            while done < len(tasks) and (tasks[done].canceled_at is not None or tasks[done].ended_at <= now):
                done += 1
            if done:
                self._redis.ltrim(key, done, -1)
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

    def _ordered(self, name: str, field: str, value: str, keep: bool = False) -> bytes:
        """Write a record of the hash ``name``, which lists its records in the order first written; with
        ``keep``, an existing record wins. Returns the record kept."""
        keys = [self._k(name), self._k(f"{name}:order"), self._k("seq")]
        return self._put_ordered(keys=keys, args=[field, value, "1" if keep else "0"])

    def _ordered_items(self, name: str) -> list[tuple[str, bytes]]:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self._k(f"{name}:order"), 0, -1)
            pipe.hgetall(self._k(name))
            order, records = pipe.execute()
        return [(_text(field), records[field]) for field in order if field in records]

    def _drop_ordered(self, name: str, fields: list[str]) -> None:
        if fields:
            self._redis.hdel(self._k(name), *fields)
            self._redis.zrem(self._k(f"{name}:order"), *fields)

    # -- limits and uploads -----------------------------------------------------

    def hit(self, key: str, limit: int, window: float, now: float) -> bool:
        keys = [self._k(f"win:{key}"), self._k("win-limits"), self._k("win-idle")]
        return bool(self._hit(keys=keys, args=[key, limit, _number(window), _number(now), self._k("win:"), _number(now - window)]))

    def put_upload(self, key: str, data: bytes, expires_at: float, now: float) -> None:
        self._put_upload(keys=[self._k("uploads")], args=[self._k("upload:"), key, data, _number(expires_at), _number(now)])

    def get_upload(self, key: str, now: float) -> bytes | None:
        data, expires_at = self._redis.hmget(self._k(f"upload:{key}"), ["d", "e"])
        if data is None or now >= float(expires_at):
            return None
        return data

    def drop_uploads(self, prefix: str) -> int:
        with self.transaction():
            gone = [name for name in map(_text, self._redis.zrange(self._k("uploads"), 0, -1)) if name.startswith(prefix)]
            self._drop_uploads(gone)
        return len(gone)

    def _drop_uploads(self, names: list[str]) -> None:
        for start in range(0, len(names), _BATCH):
            chunk = names[start : start + _BATCH]
            self._redis.delete(*[self._k(f"upload:{name}") for name in chunk])
            self._redis.zrem(self._k("uploads"), *chunk)

    # -- forgetting ------------------------------------------------------------

    def purge(self, before: float) -> int:
        with self.transaction():
            ids = [_text(task_id) for task_id in self._redis.zrangebyscore(self._k("ends"), "-inf", f"({_number(before)}")]
            self._forget(self._load_tasks(ids))
            # A lane whose slots all freed before ``before`` plans like a new one: forget it.
            idle = [field for field, text in self._ordered_items("lanes") if load_lane(text).idle_before(before)]
            self._drop_ordered("lanes", idle)
        return len(ids)

    def _forget(self, tasks: list[Task]) -> None:
        """Delete ``tasks`` and every index entry of theirs; an account left without tasks leaves the index."""
        for start in range(0, len(tasks), _BATCH):
            chunk = tasks[start : start + _BATCH]
            ids = [task.task_id for task in chunk]
            sequences = self._redis.zmscore(self._k("tasks"), ids)
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*[self._k(f"task:{task_id}") for task_id in ids])
                pipe.zrem(self._k("tasks"), *ids)
                pipe.zrem(self._k("ends"), *ids)
                for task, sequence in zip(chunk, sequences):
                    if sequence is not None:
                        pipe.zrem(self._k(f"account:{task.account}"), f"{int(sequence):016d}|{task.task_id}")
                pipe.execute()
        gone = {task.task_id for task in tasks}
        for account, model in dict.fromkeys(task.lane for task in tasks if not task.call):
            key = self._k(f"queue:{_lane_field(account, model)}")  # rebuilt once per lane, not searched per task
            kept = [task_id for task_id in map(_text, self._redis.lrange(key, 0, -1)) if task_id not in gone]
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if kept:
                    pipe.rpush(key, *kept)
                pipe.execute()
        for account in dict.fromkeys(task.account for task in tasks):
            if not self._redis.exists(self._k(f"account:{account}")):
                self._redis.zrem(self._k("task-accounts"), account)

    def reset(self, account: str | None = None) -> None:
        with self.transaction():
            if account is None:
                kept = {self._k(name).encode() for name in _KEPT}
                pattern = _glob_escape(self._prefix) + "*"
                doomed = [key for key in self._redis.scan_iter(match=pattern, count=_BATCH) if key not in kept]
                for start in range(0, len(doomed), _BATCH):
                    self._redis.unlink(*doomed[start : start + _BATCH])
                return
            ids = [member.split(b"|", 1)[1] for member in self._redis.zrange(self._k(f"account:{account}"), 0, -1)]
            self._forget(self._load_tasks(ids))
            fields = [field for field, _ in self._ordered_items("lanes") if json.loads(field)[0] == account]
            self._drop_ordered("lanes", fields)  # their queues went with their tasks
            windows = [name for name in map(_text, self._redis.hkeys(self._k("win-limits"))) if name.startswith(f"{account}|")]
            if windows:
                self._redis.delete(*[self._k(f"win:{name}") for name in windows])
                self._redis.hdel(self._k("win-limits"), *windows)
                self._redis.zrem(self._k("win-idle"), *windows)
            self._drop_ordered("states", [account])
            self._drop_ordered("books", [account])

    # -- snapshots ---------------------------------------------------------------

    def export(self) -> StoreState:
        with self.transaction():
            windows = {}
            for name, limit in self._redis.hgetall(self._k("win-limits")).items():
                hits = self._redis.lrange(self._k(f"win:{_text(name)}"), 0, -1)
                windows[_text(name)] = (int(limit), [float(hit) for hit in hits])
            uploads = {}
            for name in map(_text, self._redis.zrange(self._k("uploads"), 0, -1)):
                data, expires_at = self._redis.hmget(self._k(f"upload:{name}"), ["d", "e"])
                uploads[name] = (data, float(expires_at))
            return StoreState(
                tasks=self.tasks(),
                lanes={tuple(json.loads(field)): load_lane(text) for field, text in self._ordered_items("lanes")},
                windows=windows,
                uploads=uploads,
                accounts={account: load_account(text) for account, text in self._ordered_items("states")},
                job_books={account: load_job_book(text) for account, text in self._ordered_items("books")},
            )

    def import_(self, state: StoreState) -> None:
        with self.transaction():
            self.reset()
            tasks = sorted(state.tasks, key=lambda task: task.submitted_at)
            for start in range(0, len(tasks), _BATCH):  # pipelined: a restore of many tasks takes seconds
                with self._redis.pipeline(transaction=False) as pipe:
                    for task in tasks[start : start + _BATCH]:
                        self.add_task(task, client=pipe)
                    pipe.execute()
                self._refresh(keys=[self._k("lock")], args=[self._token, self._lock_ms])
            for (account, model), lane in state.lanes.items():
                self.save_lane(account, model, lane)
            for key, (limit, hits) in state.windows.items():
                self._redis.hset(self._k("win-limits"), key, limit)
                kept = hits[-limit:] if limit > 0 else []
                if kept:
                    self._redis.rpush(self._k(f"win:{key}"), *map(_number, kept))
                    self._redis.zadd(self._k("win-idle"), {key: kept[-1]})
            for key, (data, expires_at) in state.uploads.items():
                self._redis.hset(self._k(f"upload:{key}"), mapping={"d": data, "e": _number(expires_at)})
                self._redis.zadd(self._k("uploads"), {key: expires_at})
            for account, account_state in state.accounts.items():
                self.save_account_state(account, account_state)
            for account, book in state.job_books.items():
                self.save_job_book(account, book)

    # -- shared documents and counters ---------------------------------------------

    def get_meta(self, name: str) -> str | None:
        value = self._redis.hget(self._k("meta"), name)
        return None if value is None else _text(value)

    def put_meta(self, name: str, value: str) -> None:
        self._redis.hset(self._k("meta"), name, value)

    def add_meta(self, name: str, value: str) -> str:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self._k("meta"), name, value)
            pipe.hget(self._k("meta"), name)
            return _text(pipe.execute()[1])

    def boot(self) -> int:
        return int(self._redis.incr(self._k("boots")))

    def close(self) -> None:
        self._redis.close()


def _glob_escape(text: str) -> str:
    """``text`` matched literally by Redis' glob patterns (SCAN MATCH)."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
