"""The request journal: a bounded ring buffer of what clients did, for tests to assert on.

Every DashScope request is recorded with its time on the emulator's clock, so a
test can check how a client polled, backed off and retried. The buffer never
grows past ``journal_size`` entries (the oldest go first), unlike WireMock's.
"""

from __future__ import annotations

import itertools
import json
import threading
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, fields as dataclass_fields
from typing import Any, Iterable, Iterator, Mapping

from ..lifecycle.task import Task
from ..support.timefmt import shown_time
from .metrics import Tally


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a microsecond more per request
class Entry:
    seq: int
    time: float  # arrival, emulator-clock epoch seconds
    account: str | None
    method: str
    path: str
    route: str  # submit | query | cancel | list | download (a result image) | other
    status: int | None  # None when a network fault left no answer
    request_id: str | None
    latency_ms: float
    task_id: str | None = None
    task_status: str | None = None  # what a submit or a query answered
    model: str | None = None
    fault: str | None = None  # "http:<code>" or "network:<kind>" when a fault shaped the answer
    code: str | None = None  # the error code of an error answer (a 429's reason)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}  # every field is a scalar: no deep copy

    def log_line(self, fmt: str) -> str:
        """One structured line: JSON, or ``key=value`` text for people."""
        if fmt == "json":
            return json.dumps(self.as_dict(), separators=(",", ":"))
        pairs = [f"{name}={value}" for name in _LINE_FIELDS if (value := getattr(self, name)) is not None]
        return f"{self.method} {self.path} " + " ".join(pairs)


_FIELDS = tuple(field.name for field in dataclass_fields(Entry))
_LINE_FIELDS = tuple(name for name in _FIELDS if name not in ("method", "path"))  # the text line starts with both
_FILTERS = ("task_id", "account", "route", "method", "status", "model", "fault", "task_status", "code")


class Journal:
    """The ring buffer, and the running totals of everything it ever recorded (``tally``: the metrics' counters)."""

    def __init__(self, size: int, tally: Tally | None = None) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.tally = tally or Tally()
        self.lines: Any = None  # the request log's pacing of these entries' lines (the edge's), found here at once

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def record(self, *fields: Any, **named: Any) -> Entry:
        """Keep an entry of ``fields`` (:class:`Entry`'s, after ``seq``, which this numbers) and count it.

        The request paths pass the fields by position: a submit or poll journals one entry, and keywords
        threaded through each layer cost a dict per layer.
        """
        with self._lock:
            entry = Entry(next(self._seq), *fields, **named)
            self._entries.append(entry)
            self.tally.count(entry)
            return entry

    def refused(self, route: str, status: int, code: str | None) -> None:
        """Count a request the overload guard refused, in the tally only: never kept in the ring buffer.

        A flood of refusals would otherwise evict the requests that were served,
        and cost the overloaded server an entry each.
        """
        with self._lock:
            self.tally.refused(route, status, code)

    def __len__(self) -> int:
        return len(self._entries)

    def totals(self) -> dict[str, dict[Any, int]]:
        """The tally's counters now: every entry ever recorded, cleared or not (Prometheus counters only grow)."""
        with self._lock:
            return self.tally.snapshot()

    def select(self, filters: Mapping[str, Any]) -> list[Entry]:
        """Entries whose fields equal every given filter; ``since``/``until`` bound the time."""
        with self._lock:
            entries = list(self._entries)
        return list(self._matching(entries, filters))

    def page(self, after: int, limit: int, filters: Mapping[str, Any]) -> tuple[list[Entry], int | None]:
        """Up to ``limit`` entries with ``seq`` above ``after`` that match ``filters``, oldest first, and the
        ``after`` that asks for the next page (None: there is no more now).

        Finds ``after`` by binary search and reads on only until the page is full, so paging through a full
        journal costs each entry about once, not the whole buffer a page.
        """
        with self._lock:  # held while reading: the ring buffer must not move under the iterator
            start = bisect_right(self._entries, after, key=_seq)  # seqs grow (with gaps where one account was cleared)
            matching = self._matching(itertools.islice(self._entries, start, None), filters)
            shown = list(itertools.islice(matching, limit + 1))
        if len(shown) > limit:
            return shown[:limit], shown[limit - 1].seq
        return shown, None

    def _matching(self, entries: Iterable[Entry], filters: Mapping[str, Any]) -> Iterator[Entry]:
        since, until = filters.get("since"), filters.get("until")
        wanted = {key: filters[key] for key in _FILTERS if filters.get(key) is not None}
        return (
            entry for entry in entries
            if (since is None or entry.time >= since) and (until is None or entry.time <= until)
            and all(getattr(entry, key) == value for key, value in wanted.items())
        )

    def clear(self, account: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._entries.clear()
            else:
                kept = [entry for entry in self._entries if entry.account != account]
                self._entries.clear()
                self._entries.extend(kept)


def _seq(entry: Entry) -> int:
    return entry.seq


def timeline(task: Task | None, entries: Iterable[Entry], now: float) -> list[dict[str, Any]]:
    """The task's story in time order: its requests and the transitions its plan made by ``now``.

    At one instant a transition comes right after the request that caused it
    (the submit, the cancel) and before the polls that saw it.
    """
    ranked: list[tuple[float, float, dict[str, Any]]] = []
    causes = {"submit": 0, "cancel": 0}
    for entry in entries:
        event = {"time": entry.time, "at": shown_time(entry.time), "event": _event(entry), "status": entry.status}
        if entry.task_status is not None:
            event["task_status"] = entry.task_status
        if entry.fault is not None:
            event["fault"] = entry.fault
        if entry.route in causes and entry.status == 200:
            causes[entry.route] = entry.seq
        ranked.append((entry.time, entry.seq, event))
    if task is not None:
        for step, (time, state) in enumerate(_transitions(task)):
            if time <= now:
                cause = causes["cancel"] if state == "CANCELED" else causes["submit"]
                event = {"time": time, "at": shown_time(time), "event": "transition", "task_status": state}
                ranked.append((time, cause + 0.5 + step / 100, event))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in ranked]


def _event(entry: Entry) -> str:
    if entry.status == 429:
        return "throttled"
    return {"submit": "submit", "query": "poll", "cancel": "cancel"}.get(entry.route, entry.route)


def _transitions(task: Task) -> list[tuple[float, str]]:
    steps = [(task.submitted_at, "PENDING")]
    if task.canceled_at is not None:
        return steps + [(task.canceled_at, "CANCELED")]
    steps.append((task.scheduled_at, "RUNNING"))
    steps.append((task.ended_at, task.final_status()))
    return steps
