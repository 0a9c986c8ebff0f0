"""The capacity profile's ramp, read back from Locust's history CSV: throughput and latency per step.

Locust writes one ``Aggregated`` row a second with the user count, the
current requests a second and latency percentiles; rows with the same user
count are one step of the ramp (:class:`.capacity.Ramp`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import median
from typing import Any

STEPS = 5
KNEE_SHARE = 0.95  # the knee: the first step with at least this share of the best throughput


def ramp(users: int) -> list[int]:
    """The user count of each step: ``users`` reached in ``STEPS`` equal steps."""
    return [math.ceil(users * step / STEPS) for step in range(1, STEPS + 1)]


def stages(history: Path, planned: list[int]) -> list[dict[str, Any]]:
    """``[{users, requests_per_second, failures_per_second, mean_ms, p95_ms}]`` per ``planned`` step.

    Rates and the mean come from the running totals (exact over the step);
    ``p95_ms`` is the median of Locust's own rolling 95th percentile during the step.
    """
    if not history.exists():
        return []
    steps: dict[int, list[dict[str, str]]] = {users: [] for users in planned}
    with open(history, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            users = int(row["User Count"]) if row.get("User Count", "").isdigit() else -1
            if row.get("Name") == "Aggregated" and users in steps:
                steps[users].append(row)
    return [_step(users, rows) for users, rows in steps.items() if len(rows) > 1]


def _step(users: int, rows: list[dict[str, str]]) -> dict[str, Any]:
    first, last = rows[0], rows[-1]
    seconds = max(_number(last["Timestamp"]) - _number(first["Timestamp"]), 1.0)
    count = _number(last["Total Request Count"]) - _number(first["Total Request Count"])
    failures = _number(last["Total Failure Count"]) - _number(first["Total Failure Count"])
    spent = (_number(last["Total Average Response Time"]) * _number(last["Total Request Count"])
             - _number(first["Total Average Response Time"]) * _number(first["Total Request Count"]))
    return {"users": users, "requests_per_second": round(count / seconds, 1),
            "failures_per_second": round(failures / seconds, 1),
            "mean_ms": round(spent / count, 1) if count else None,
            "p95_ms": median(_number(row["95%"]) for row in rows[1:])}


def knee(steps: list[dict[str, Any]]) -> int | None:
    """The fewest users that reach ``KNEE_SHARE`` of the best throughput: more users add only latency."""
    if not steps:
        return None
    best = max(step["requests_per_second"] for step in steps)
    return next(step["users"] for step in steps if step["requests_per_second"] >= KNEE_SHARE * best)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first request of a step
        return 0.0
