"""API keys to accounts.

Limits and tasks belong to the main account: every key of one account sees
the same tasks and shares the same limits. By default any non-empty key is
accepted and is an account of its own, so parallel tests that use different
keys are isolated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..settings.config import AccountConfig, ModelLimits, Settings
from .errors import ApiError


@dataclass(frozen=True)
class Account:
    id: str
    uid: str  # the numeric main-account id the task list shows
    api_key_id: str  # the numeric id of the key used, as the task list shows it
    limits: dict[str, ModelLimits] = field(default_factory=dict)
    requests_per_second: int | None = None
    free_tier_only: bool = False


_KNOWN_KEYS = 4096


def _digits(text: str, count: int) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16))[:count]


class Accounts:
    """Resolves the key of a request, or raises the exact 401."""

    def __init__(self, settings: Settings) -> None:
        self._accept_any = settings.accept_any_key
        self._rejected = set(settings.reject_keys)
        self._by_key: dict[str, AccountConfig] = {
            key: account for account in settings.accounts for key in account.keys
        }
        self._by_id = {account.id: account for account in settings.accounts}
        self._known: dict[str, Account] = {}  # by Authorization value: the ids are hashes, worth computing once

    def resolve(self, authorization: str | None) -> Account:
        known = self._known.get(authorization) if authorization is not None else None
        if known is not None:
            return known
        account = self._resolve(_bearer(authorization))
        if len(self._known) >= _KNOWN_KEYS:  # bounded: a client cycling through keys cannot grow it
            self._known.clear()
        self._known[authorization] = account  # type: ignore[index]  # not None: _resolve raised the 401
        return account

    def _resolve(self, key: str) -> Account:
        if not key:
            raise ApiError("InvalidApiKey", "missing")
        if key in self._rejected:
            raise ApiError("InvalidApiKey")
        configured = self._by_key.get(key)
        if configured is not None:
            return _account(configured, key)
        if not self._accept_any:
            raise ApiError("InvalidApiKey")
        account_id = "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]
        return Account(id=account_id, uid=_digits(f"account:{account_id}", 16), api_key_id=_digits(f"key:{key}", 5))

    def named(self, account_id: str) -> Account:
        """The account with this id, for the control plane: a configured one, or one of an unlisted key's."""
        configured = self._by_id.get(account_id)
        if configured is not None:
            return _account(configured, configured.keys[0] if configured.keys else "")
        return Account(id=account_id, uid=_digits(f"account:{account_id}", 16), api_key_id="")


def _account(configured: AccountConfig, key: str) -> Account:
    return Account(
        id=configured.id,
        uid=_digits(f"account:{configured.id}", 16),
        api_key_id=_digits(f"key:{key}", 5),
        limits=configured.limits,
        requests_per_second=configured.requests_per_second,
        free_tier_only=configured.free_tier_only,
    )


def _bearer(header: str | None) -> str:
    """The key of ``Authorization: Bearer <key>``; a bare value is taken as the key (decision)."""
    if header is None:
        return ""
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return value
