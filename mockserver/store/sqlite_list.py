"""The SQLite store's answer to a task-list call: counted and paged in SQL over the tasks' brief columns.

No record is decoded but the page's: the status each task has at the call's
instant is worked out by :data:`_STATUS`, the rule of ``Task.status_at`` over
the same columns (the tests hold every store's pages to the Python rule), and
the order is ``gmt_create`` (``int(submitted_at * 1000)``: SQLite's cast
truncates as Python's ``int`` does) newest first, equal ones in submission order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lifecycle.selection import TaskQuery
from ..lifecycle.task import Task

if TYPE_CHECKING:
    from .sqlite import SqliteStore

_LAST_ROW = 2**63 - 1  # SQLite's largest integer: a later page's offset is past every row anyway
# Task.status_at: canceled_at is finished_at when canceled; final is Task.final_status().
_STATUS = """CASE
    WHEN canceled AND :now >= finished_at THEN
        CASE WHEN :now >= finished_at + :retention THEN 'UNKNOWN' ELSE 'CANCELED' END
    WHEN :now < scheduled_at THEN 'PENDING'
    WHEN :now < ended_at THEN 'RUNNING'
    WHEN :now >= ended_at + :retention THEN 'UNKNOWN'
    ELSE final
END"""
_LISTED = f"""WITH listed AS (
    SELECT seq, id, submitted_at, {_STATUS} AS status FROM tasks
    WHERE account = :account AND submitted_at BETWEEN :since AND :until AND call = 0
      AND (:task_id IS NULL OR id = :task_id) AND (:model IS NULL OR model = :model)
      AND (:api_key_id IS NULL OR api_key_id = :api_key_id)
) SELECT {{}} FROM listed WHERE status != 'UNKNOWN' AND (:status IS NULL OR status = :status)"""
_COUNT = _LISTED.format("COUNT(*)")
_PAGE = _LISTED.format("id") + (" ORDER BY CAST(submitted_at * 1000 AS INTEGER) DESC, submitted_at, seq"
                                " LIMIT :size OFFSET :start")


def list_tasks(store: SqliteStore, account: str, query: TaskQuery) -> tuple[int, list[Task]]:
    """``(total, page)``, both read in one snapshot of the file (other workers may be writing)."""
    args = {
        "account": account, "since": query.since, "until": query.until, "task_id": query.task_id,
        "model": query.model, "api_key_id": query.api_key_id, "status": query.status, "now": query.now,
        "retention": query.retention, "size": query.stop - query.start, "start": min(query.start, _LAST_ROW),
    }
    with store.snapshot():
        (total,) = store._db.execute(_COUNT, args).fetchone()
        ids = [task_id for (task_id,) in store._db.execute(_PAGE, args)]
        tasks = [store.get_task(task_id) for task_id in ids]
    return total, [task for task in tasks if task is not None]
