"""What ``dashscope-mock serve`` says at start-up: how this emulator will behave, before any client asks.

The clock and its speed, where the settings came from, the accounts, the input
fetch policy, the store, and where the inspector is, one line each.
"""

from __future__ import annotations

import math

from ..settings.config import Settings

_CLOCKS = {
    "real": "real (wall time)",
    "scaled": "scaled ({rate:g}x wall time)",
    "manual": "manual (stands still until POST /__mock/clock/advance; rate windows stand still too)",
}
_FETCH = {
    "loopback": "input images on loopback hosts are downloaded and checked; others pass unchecked",
    "any": "input images on any host are downloaded and checked",
    "none": "input images are not downloaded",
}


def lines(settings: Settings, url: str, config: str | None = None, state: str | None = None) -> list[str]:
    """The banner's lines, after the listening line and the ``DASHSCOPE_HTTP_BASE_URL`` one."""
    shown = [
        ("clock", _CLOCKS[settings.clock].format(rate=settings.clock_rate)),
        ("speed", _speed(settings.speed)),
        ("config", config or "none (defaults and the command line)"),
        ("accounts", _accounts(settings)),
        ("inputs", f"fetch_inputs={settings.fetch_inputs}: {_FETCH[settings.fetch_inputs]}"),
        ("store", _store(settings) + (f", started from {state}" if state else "") +
         f"; journal keeps {settings.journal_size} requests" + (" per worker" if settings.workers > 1 else "")),
        ("inspector", _inspector(settings, url)),
    ]
    return [f"  {name:<10} {text}" for name, text in shown]


def _store(settings: Settings) -> str:
    if settings.store == "memory":
        where = "in memory"
    elif settings.store.startswith("sqlite:"):
        where = f"{settings.store} (survives restarts; a clock or fault rules kept there win over the settings)"
    else:
        where = f"{settings.store} (shared; a clock or fault rules kept there win over the settings)"
    return where + (f"; {settings.workers} workers" if settings.workers > 1 else "")


def _speed(speed: float) -> str:
    if math.isinf(speed):
        return "inf: every task ends at once"
    if speed == 1:
        return "1: realistic task durations (wanx-v1 n=4 about 31 s)"
    return f"{speed:g}: task durations {speed:g} times shorter"


def _accounts(settings: Settings) -> str:
    configured = ", ".join(f"{account.id} ({len(account.keys)} keys)" for account in settings.accounts)
    parts = [f"configured: {configured}" if configured else "none configured"]
    parts.append("any other non-empty key is an account of its own" if settings.accept_any_key
                 else "other keys get 401")
    if settings.reject_keys:
        parts.append(f"{len(settings.reject_keys)} rejected keys")
    return "; ".join(parts)


def _inspector(settings: Settings, url: str) -> str:
    if not settings.control_plane:
        return "off (control_plane: false)"
    who = "with the admin token" if settings.admin_token else "from loopback clients"
    return f"{url}/__mock/ui/ ({who})"
