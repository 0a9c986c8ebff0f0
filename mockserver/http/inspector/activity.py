"""Accounts as the inspector shows them: limits, usage and free quota, and per-second activity.

The activity comes from the request journal (it holds every DashScope request
with its time on the emulator's clock), so it needs no metrics of its own: the
last ``SPAN`` seconds, one count per second, of submits and of 429 answers.
"""

from __future__ import annotations

from typing import Any

from ...domain import account_state
from ...domain.emulator import Emulator

SPAN = 60  # seconds of activity a sparkline shows


def accounts(emulator: Emulator) -> list[dict[str, Any]]:
    """Every account that is configured or has been used, with the models it used, and its activity."""
    store = emulator.store
    now = emulator.clock.now()
    configured = [account.id for account in emulator.settings.accounts]
    activity = _activity(emulator, now)
    shown = []
    with store.transaction():
        for account_id in dict.fromkeys([*configured, *store.account_ids()]):
            account = emulator.accounts.named(account_id)
            state = store.account_state(account_id)
            used = {task.model for task in store.account_tasks(account_id)} | set(state.used)
            entries = [emulator.catalog.models[name] for name in sorted(used) if name in emulator.catalog.models]
            described = account_state.describe(state, account, entries, emulator.settings.requests_per_second)
            described["activity"] = activity.get(account_id, _empty())
            shown.append(described)
    return shown


def _empty() -> dict[str, list[int]]:
    return {"submits": [0] * SPAN, "throttled": [0] * SPAN}


def _activity(emulator: Emulator, now: float) -> dict[str, dict[str, list[int]]]:
    """Per account, submits and 429s in each of the last ``SPAN`` seconds (oldest first)."""
    counts: dict[str, dict[str, list[int]]] = {}
    for entry in emulator.journal.select({"since": now - SPAN}):
        if entry.account is None:
            continue
        second = int(now - entry.time)
        if not 0 <= second < SPAN:
            continue
        series = counts.setdefault(entry.account, _empty())
        if entry.route == "submit":
            series["submits"][SPAN - 1 - second] += 1
        if entry.status == 429:
            series["throttled"][SPAN - 1 - second] += 1
    return counts
