"""The capacity profile's ramp, read back from Locust's history CSV: throughput and latency per step.

Locust writes one ``Aggregated`` row a second with the user count, the
current requests a second and latency percentiles; rows with the same user
count are one step of the ramp (:class:`.capacity.Ramp`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import median
from typing import Any

KNEE_SHARE = 0.95  # the knee: the first step with at least this share of the best throughput


def stages(history: Path) -> list[dict[str, Any]]:
    """``[{users, requests_per_second, p95_ms, failures_per_second}]`` per ramp step, medians of its seconds."""
    if not history.exists():
        return []
    steps: dict[int, list[dict[str, str]]] = {}
    with open(history, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated" and row.get("User Count", "0").isdigit() and int(row["User Count"]):
                steps.setdefault(int(row["User Count"]), []).append(row)
    return [{"users": users,
             "requests_per_second": round(median(_number(row["Requests/s"]) for row in rows), 1),
             "failures_per_second": round(median(_number(row["Failures/s"]) for row in rows), 1),
             "p95_ms": median(_number(row["95%"]) for row in rows)}
            for users, rows in sorted(steps.items())]


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
