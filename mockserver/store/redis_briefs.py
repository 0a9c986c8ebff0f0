"""The Redis store's task briefs: what the task list reads of an account's window, without whole records.

Each task's brief (:mod:`mockserver.lifecycle.brief`) is a field of the hash
``briefs:<account>``, written with the task by the scripts that add and save it
and deleted with it; a list call reads them a thousand at a time and parses
each thousand at once. A task written before briefs were kept has none: its
record is read instead, once per list call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..lifecycle.brief import TaskBrief, brief_of
from .codec import load_task
from .redis_layout import BATCH, number, text_of

if TYPE_CHECKING:
    from .redis import RedisStore


def account_briefs(store: RedisStore, account: str, since: float, until: float) -> list[TaskBrief]:
    """The briefs of the account's tasks submitted in ``[since, until]``, in submission order."""
    members = store._redis.zrangebyscore(store._k(f"account:{account}"), number(since), number(until))
    ids = [member.split(b"|", 1)[1] for member in members]
    briefs: list[TaskBrief] = []
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        texts = store._redis.hmget(store._k(f"briefs:{account}"), chunk)
        if None not in texts:  # one parse for the batch (what the time goes to on a big window)
            briefs += [TaskBrief(*fields) for fields in orjson.loads(b"[" + b",".join(texts) + b"]")]
            continue
        for task_id, text in zip(chunk, texts):
            if text is not None:
                briefs.append(TaskBrief(*orjson.loads(text)))
                continue
            record = store._redis.get(store._k(f"task:{text_of(task_id)}"))
            if record is not None:  # kept before briefs were (a task gone since is skipped)
                briefs.append(brief_of(load_task(record)))
    return briefs
