"""Prometheus metrics: the journal's running totals, and the store read at scrape time.

Nothing here runs per request except :meth:`Tally.count`, which the journal
calls as it records an entry, under its own lock: a handful of dict
increments. So the request counters cannot disagree with the journal (they
count the same entries, plus the overload guard's refusals, which
:meth:`Tally.refused` counts without an entry), and everything else (tasks by state, queues,
transition times) is computed from the store when Prometheus scrapes.

Labels stay bounded: the first ``max_accounts`` accounts seen get a label of
their own, later ones share ``other``; a model the catalog does not know is
``other`` too; routes, statuses, error codes and fault names come from fixed
sets (the catalog's codes).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from .emulator import Emulator

OTHER = "other"
NONE = "none"  # no account (the request was not authenticated), no status (a network fault sent nothing)
_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class Tally:
    """Counts of the journal's entries by bounded labels; the journal calls :meth:`count` for each."""

    def __init__(self, max_accounts: int = 20, models: frozenset[str] = frozenset()) -> None:
        self.max_accounts = max_accounts
        self.models = models
        self._accounts: set[str] = set()
        self._lock = threading.Lock()  # labels are admitted from the journal and from scrapes
        self.requests: Counter[tuple[str, int | None, str]] = Counter()  # (route, status, account)
        self.throttled: Counter[tuple[str, str]] = Counter()  # 429s: (code, account)
        self.submits: Counter[tuple[str, str]] = Counter()  # accepted submits: (model, account)
        self.faults: Counter[str] = Counter()  # "http:<code>" / "network:<kind>"
        self.refusals: Counter[str] = Counter()  # the overload guard's, by route (never journaled)

    def account(self, account: str | None) -> str:
        """The account's label: itself while there is room, else ``other``."""
        if account is None:
            return NONE
        if account in self._accounts:
            return account
        with self._lock:
            if len(self._accounts) < self.max_accounts:
                self._accounts.add(account)
                return account
        return OTHER

    def model(self, model: str | None) -> str:
        return model if model in self.models else (NONE if model is None else OTHER)

    def count(self, entry: Any) -> None:
        """Count one journal entry (a :class:`mockserver.domain.journal.Entry`)."""
        account = entry.account
        if account not in self._accounts:  # the label's look-up inlined for those already admitted: once per request
            account = self.account(account)
        self.requests[(entry.route, entry.status, account)] += 1
        if entry.status == 429:
            self.throttled[(entry.code or OTHER, account)] += 1
        if entry.route == "submit" and entry.status == 200:
            self.submits[(self.model(entry.model), account)] += 1
        if entry.fault is not None:
            self.faults[entry.fault] += 1

    def refused(self, route: str, status: int, code: str | None) -> None:
        """Count one refusal of the overload guard (unauthenticated: no account)."""
        self.requests[(route, status, NONE)] += 1
        if status == 429:
            self.throttled[(code or OTHER, NONE)] += 1
        self.refusals[route] += 1

    def snapshot(self) -> dict[str, dict[Any, int]]:
        """Copies of the counters (taken under the journal's lock by :meth:`Journal.totals`)."""
        return {"requests": dict(self.requests), "throttled": dict(self.throttled),
                "submits": dict(self.submits), "faults": dict(self.faults), "refusals": dict(self.refusals)}


class Collector:
    """A ``prometheus_client`` collector: reads the tally, the journal and the store on each scrape."""

    def __init__(self, emulator: "Emulator", in_flight: Callable[[], int] | None = None) -> None:
        self.emulator = emulator
        self.in_flight = in_flight

    def collect(self) -> Iterator[Metric]:
        emulator = self.emulator
        totals = emulator.journal.totals()
        requests = CounterMetricFamily("dashscope_mock_requests", "DashScope requests and result downloads answered, "
                                       "by route and HTTP status (none: a network fault sent nothing); the overload guard's refusals included",
                                       labels=["route", "status", "account"])
        for (route, status, account), value in sorted(totals["requests"].items(), key=str):
            requests.add_metric([route, NONE if status is None else str(status), account], value)
        yield requests
        throttled = CounterMetricFamily("dashscope_mock_throttled", "429 answers by error code: Throttling.RateQuota "
                                        "(the account's limits), Throttling (the overload guard), or a fault's code",
                                        labels=["reason", "account"])
        for (reason, account), value in sorted(totals["throttled"].items()):
            throttled.add_metric([reason, account], value)
        yield throttled
        submits = CounterMetricFamily("dashscope_mock_submits", "accepted submits (a task or a sync answer)",
                                      labels=["model", "account"])
        for (model, account), value in sorted(totals["submits"].items()):
            submits.add_metric([model, account], value)
        yield submits
        downloads = CounterMetricFamily("dashscope_mock_result_downloads", "result image GET/HEAD by status",
                                        labels=["status"])
        by_status: Counter[str] = Counter()
        for (route, status, _), value in totals["requests"].items():
            if route == "download":
                by_status[NONE if status is None else str(status)] += value
        for status, value in sorted(by_status.items()):
            downloads.add_metric([status], value)
        yield downloads
        faults = CounterMetricFamily("dashscope_mock_fault_firings", "answers a fault rule or directive shaped",
                                     labels=["fault"])
        for fault, value in sorted(totals["faults"].items()):
            faults.add_metric([fault], value)
        yield faults
        refusals = CounterMetricFamily("dashscope_mock_overload_refusals", "requests the overload guard refused "
                                       "(429 Throttling, 503 on downloads): counted above too, never journaled",
                                       labels=["route"])
        for route, value in sorted(totals["refusals"].items()):
            refusals.add_metric([route], value)
        yield refusals
        yield from self._tasks()
        yield GaugeMetricFamily("dashscope_mock_journal_entries", "entries the request journal holds",
                                value=len(emulator.journal))
        yield GaugeMetricFamily("dashscope_mock_journal_capacity", "the journal's size (journal_size)",
                                value=emulator.journal.size)
        if self.in_flight is not None:
            yield GaugeMetricFamily("dashscope_mock_requests_in_flight", "requests being served now",
                                    value=self.in_flight())

    def _tasks(self) -> Iterator[Metric]:
        """Tasks by model and state, the queues and the transition times, in one pass over the store."""
        emulator, tally = self.emulator, self.emulator.journal.tally
        now = emulator.clock.now()
        retention = emulator.settings.retention_hours * 3600
        tasks = emulator.store.tasks()
        states: Counter[tuple[str, str]] = Counter()
        depth: Counter[tuple[str, str]] = Counter()
        oldest: dict[tuple[str, str], float] = {}
        queued: list[float] = []
        ran: list[float] = []
        for task in tasks:
            state = task.status_at(now, retention)
            model = tally.model(task.model)
            states[(model, state)] += 1
            if state == "PENDING":
                lane = (tally.account(task.account), model)
                depth[lane] += 1
                oldest[lane] = max(oldest.get(lane, 0.0), now - task.submitted_at)
            elif task.canceled_at is None or task.canceled_at > task.scheduled_at:
                queued.append(task.scheduled_at - task.submitted_at)
                if now >= task.ended_at and task.canceled_at is None:
                    ran.append(task.ended_at - task.scheduled_at)
        family = GaugeMetricFamily("dashscope_mock_tasks", "retained tasks by model and state", labels=["model", "state"])
        for (model, state), value in sorted(states.items()):
            family.add_metric([model, state], value)
        yield family
        family = GaugeMetricFamily("dashscope_mock_queue_depth", "PENDING tasks per account and model",
                                   labels=["account", "model"])
        for lane, value in sorted(depth.items()):
            family.add_metric(list(lane), value)
        yield family
        family = GaugeMetricFamily("dashscope_mock_queue_oldest_wait_seconds", "how long the oldest PENDING task "
                                   "has waited, per account and model (emulator clock)", labels=["account", "model"])
        for lane, value in sorted(oldest.items()):
            family.add_metric(list(lane), value)
        yield family
        yield _histogram("dashscope_mock_task_queue_seconds", "submit to RUNNING, retained tasks that started", queued)
        yield _histogram("dashscope_mock_task_run_seconds", "RUNNING to the end, retained tasks that ended", ran)


def _histogram(name: str, documentation: str, values: list[float]) -> Metric:
    """A gauge histogram (it describes the tasks retained now, so it can go down as they expire)."""
    values = sorted(values)
    buckets = [(str(bound), bisect_right(values, bound)) for bound in _SECONDS] + [("+Inf", len(values))]
    return GaugeHistogramMetricFamily(name, documentation, buckets=buckets, gsum_value=sum(values))
