"""DashScope's time formats, all rendered from emulator-clock readings.

Task queries show ``YYYY-MM-DD HH:mm:ss.SSS`` in China time (UTC+8); the task
list takes ``YYYYMMDDhhmmss`` filters (China time) and answers in epoch
milliseconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from functools import lru_cache

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
_LIST_FORMAT = "%Y%m%d%H%M%S"


@lru_cache(maxsize=4096)  # a task is polled many times: its times are formatted once
def task_time(timestamp: float) -> str:
    """``2024-11-01 09:50:56.081``: the task query's timestamp format."""
    moment = datetime.fromtimestamp(timestamp, CHINA)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def shown_time(timestamp: float) -> str:
    """``2024-11-01 09:50:56.081 +08:00``: a time shown to people (timelines, the inspector) says its zone."""
    return f"{task_time(timestamp)} +08:00"


def task_time_seconds(timestamp: float) -> str:
    """``2024-11-01 09:50:56``: the same without milliseconds (some old models)."""
    return datetime.fromtimestamp(timestamp, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(timestamp: float) -> int:
    """Epoch milliseconds, as the task list and response headers carry them."""
    return int(timestamp * 1000)


def parse_list_time(value: str) -> float:
    """Parse a ``YYYYMMDDhhmmss`` list filter (China time); ValueError if malformed."""
    if len(value) != 14 or not value.isdigit():
        raise ValueError(value)
    return datetime.strptime(value, _LIST_FORMAT).replace(tzinfo=CHINA).timestamp()


def date_path(timestamp: float) -> str:
    """``20240301``: the date folder of a result object's key."""
    return datetime.fromtimestamp(timestamp, CHINA).strftime("%Y%m%d")


def oss_time(timestamp: float) -> str:
    """``2025-02-03T02:53:25.000Z``: how OSS writes times (errors, POST policies)."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_date(timestamp: float) -> str:
    """``Fri, 01 Mar 2024 02:38:04 GMT``: the ``Date`` header, formatted once per second."""
    whole = int(timestamp)
    if timestamp - whole >= 0.9999995:  # formatdate rounds to the microsecond: this one may be the next second
        return formatdate(timestamp, usegmt=True)
    return _http_second(whole)


@lru_cache(maxsize=4)
def _http_second(whole: int) -> str:
    return formatdate(whole, usegmt=True)
