"""The task list (``GET /api/v1/tasks``): its time window of at most 24 hours, its paging, its filters and
its rows, newest first. ``Emulator.list_tasks`` (``emulator.py``) throttles and reads the store; the rest is here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..lifecycle.selection import TaskQuery
from ..lifecycle.task import Task
from ..store.base import Store
from ..support.parsing import page_number
from ..support.timefmt import epoch_ms, parse_list_time
from .errors import ApiError

_DAY = 24 * 3600.0
_MAX_PAGE_SIZE = 100
_FILTERS = ("task_id", "model_name", "status", "api_key_id")


@dataclass(frozen=True)
class Listing:
    """A list request, checked: the window ``[start, end]``, the page, the filters."""

    start: float
    end: float
    page_no: int
    page_size: int
    wanted: dict[str, str | None]

    @classmethod
    def of(cls, query: Mapping[str, str], now: float) -> Listing:
        """Check the query in the real service's order (the window, then the paging); raise its 400s."""
        start, end = _window(query, now)
        page_no = page_number(query.get("page_no"), 1)
        page_size = page_number(query.get("page_size"), 10)
        if page_size > _MAX_PAGE_SIZE:
            raise ApiError("InvalidParameter", "list_paging")
        return cls(start, end, page_no, page_size, {key: query.get(key) for key in _FILTERS})

    def page(self, store: Store, account: str, now: float, retention: float) -> dict[str, Any]:
        """The answer: the window's tasks (no synchronous calls, none expired) that pass the filters, newest
        first. The store counts them and hands out the page's tasks only: a row is built for each of those."""
        wanted = {key: value if value not in (None, "") else None for key, value in self.wanted.items()}
        start = (self.page_no - 1) * self.page_size
        query = TaskQuery(self.start, self.end, wanted["task_id"], wanted["model_name"], wanted["status"],
                          wanted["api_key_id"], now, retention, start, start + self.page_size)
        total, tasks = store.list_tasks(account, query)
        return {
            "total": total,
            "data": [_list_row(task, task.status_at(now, retention), now) for task in tasks],
            "total_page": math.ceil(total / self.page_size),
            "page_no": self.page_no,
            "page_size": self.page_size,
        }


def _window(query: Mapping[str, str], now: float) -> tuple[float, float]:
    try:
        end = parse_list_time(query["end_time"]) if query.get("end_time") else now
        start = parse_list_time(query["start_time"]) if query.get("start_time") else end - _DAY
    except ValueError:
        raise ApiError("InvalidParameter", "list_time_format") from None
    if start > end or end - start > _DAY:
        raise ApiError("InvalidParameter", "list_time_range")
    # The filters have whole seconds: a task submitted in the end second is inside.
    return start, end + (0.999 if query.get("end_time") else 0.0)


def _list_row(task: Task, status: str, now: float) -> dict[str, Any]:
    """One ``data[]`` item, keys in the captured (alphabetical) order."""
    row: dict[str, Any] = {
        "api_key_id": task.api_key_id,
        "caller_parent_id": task.caller_uid,
        "caller_uid": task.caller_uid,
    }
    if status in ("SUCCEEDED", "FAILED", "CANCELED"):
        row["end_time"] = epoch_ms(task.finished_at)
    row["gmt_create"] = epoch_ms(task.submitted_at)
    row["model_name"] = task.model
    row["region"] = "cn-beijing"
    row["request_id"] = task.request_id
    if task.canceled_at is None and now >= task.scheduled_at:
        row["start_time"] = epoch_ms(task.scheduled_at)
    row["status"] = status
    row["task_id"] = task.task_id
    row["user_api_unique_key"] = f"apikey:v1:aigc:{task.group}:{task.function}:{task.model}"
    return row
