"""The task list (``GET /api/v1/tasks``): its time window of at most 24 hours, its paging, its filters and
its rows, newest first. ``Emulator.list_tasks`` (``emulator.py``) throttles and reads the store; the rest is here."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..lifecycle.brief import Briefed
from ..lifecycle.task import UNKNOWN, Task
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

    def page(self, tasks: Sequence[Briefed], now: float, retention: float, load: Callable[[str], Task | None]) -> dict[str, Any]:
        """The answer: the window's tasks (no synchronous calls, none expired) that pass the filters, newest first.

        ``tasks`` are the window's briefs in submission order; one pass filters and counts them, and only the
        page's tasks are loaded (``load``) and made rows: a call costs its page, plus one light pass."""
        matching = self._matching(tasks, now, retention)
        total = len(matching)
        start = (self.page_no - 1) * self.page_size
        page = []
        for brief in _newest_first(matching, start, start + self.page_size):
            task = load(brief.task_id)
            if task is not None:  # (another process may have reset the account since)
                page.append(_list_row(task, task.status_at(now, retention), now))
        return {
            "total": total,
            "data": page,
            "total_page": math.ceil(total / self.page_size),
            "page_no": self.page_no,
            "page_size": self.page_size,
        }

    def _matching(self, tasks: Sequence[Briefed], now: float, retention: float) -> list[Briefed]:
        """The tasks the filters keep, in submission order (a row's field equals the filter's text)."""
        wanted = {key: value for key, value in self.wanted.items() if value not in (None, "")}
        task_id, model, status, key = (wanted.get(name) for name in _FILTERS)
        kept = []
        for task in tasks:
            if task.call or (task_id is not None and task.task_id != task_id) or (model is not None and task.model != model):
                continue
            if key is not None and task.api_key_id != key:
                continue
            found = task.status_at(now, retention)
            if found != UNKNOWN and (status is None or found == status):
                kept.append(task)
        return kept


def _created(task: Briefed) -> int:
    """A row's ``gmt_create``: what the list is ordered by."""
    return epoch_ms(task.submitted_at)


def _newest_first(tasks: list[Briefed], start: int, stop: int) -> list[Briefed]:
    """Items ``start:stop`` of ``tasks`` (in submission order) sorted newest first by ``gmt_create``; tasks of
    one millisecond keep submission order among themselves (what a stable sort of the whole list gives).

    ``gmt_create`` never decreases along submission order, so the tasks of one millisecond are a run that
    two bisections find: this walks the page's runs only, whatever the list's length."""
    count = len(tasks)
    page: list[Briefed] = []
    at = start  # the position in the answer
    while at < min(stop, count):
        created = _created(tasks[count - 1 - at])
        low = bisect.bisect_left(tasks, created, hi=count - at, key=_created)
        high = bisect.bisect_right(tasks, created, lo=count - 1 - at, key=_created)
        first = count - high  # the run's first position in the answer, where its oldest task goes
        end = min(stop, count - low)
        page += tasks[low + at - first : low + end - first]
        at = end
    return page


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
