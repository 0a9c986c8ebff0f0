"""An account's run-time state: limits and quotas changed over the control plane, and the images it used.

The config file gives an account its starting limits; ``PATCH /__mock/account``
changes them while the emulator runs. A setting's effective value is the first
found of: the run-time value for the model, the run-time value for ``"*"``,
the config's for the model, the config's for ``"*"``, the catalog's.

Free quota (decision, spec section 9): images count against the model's free
quota (``billing.free_quota`` in the catalog, 500) when the submit plans them
to succeed, since the plan already knows; a failed task or a failed image
costs nothing, and a cancel (only while PENDING) gives the images back.
Usage keeps counting past the quota (paid use) unless the account is in
free-tier-only mode, where the submit is refused with 403
``AllocationQuota.FreeTierOnly``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..catalog import ModelEntry
from ..settings.config import ModelLimits
from .accounts import Account

_LIMIT_FIELDS = ("submit_per_second", "concurrency", "free_quota")


@dataclass
class AccountState:
    """What the control plane changed for one account, and what it used; kept by the store."""

    free_tier_only: bool | None = None  # None: the config's
    requests_per_second: int | None = None  # None: the config's, else the settings'
    models: dict[str, ModelLimits] = field(default_factory=dict)  # model name, or "*" for all
    used: dict[str, int] = field(default_factory=dict)  # images counted per model


def _resolve(layers: Iterable[Mapping[str, ModelLimits]], model: str, name: str) -> int | None:
    for limits in layers:
        for key in (model, "*"):
            value = getattr(limits.get(key), name, None)
            if value is not None:
                return value
    return None


def limits(state: AccountState, account: Account, entry: ModelEntry) -> tuple[int, int]:
    """``(submits per second, concurrency)`` for the account on this model: each the first set of the control
    plane's and the config's limits, for the model and then for ``*`` (as :func:`_resolve` finds one); both looked
    for in one pass, as every submit asks."""
    rate = slots = None
    for layer in (state.models, account.limits):
        if not layer:  # most accounts set nothing
            continue
        for key in (entry.name, "*"):
            found = layer.get(key)
            if found is not None:
                rate = found.submit_per_second if rate is None else rate
                slots = found.concurrency if slots is None else slots
                if rate is not None and slots is not None:
                    return rate, slots
    return (entry.limits.submit_per_second if rate is None else rate, entry.limits.concurrency if slots is None else slots)


def requests_per_second(state: AccountState, account: Account, default: int) -> int:
    for value in (state.requests_per_second, account.requests_per_second):
        if value is not None:
            return value
    return default


def free_quota(state: AccountState, account: Account, entry: ModelEntry) -> int:
    quota = _resolve((state.models, account.limits), entry.name, "free_quota")
    return entry.billing.free_quota if quota is None else quota


def free_tier_only(state: AccountState, account: Account) -> bool:
    return account.free_tier_only if state.free_tier_only is None else state.free_tier_only


def refuses(state: AccountState, account: Account, entry: ModelEntry, images: int, check: str) -> bool:
    """Whether free-tier-only mode refuses a submit of ``images`` images.

    ``check`` is the ``free_tier_check`` setting: ``requested`` refuses when
    fewer than ``images`` remain, ``exhausted`` only when none remain.
    """
    if not free_tier_only(state, account):
        return False
    left = free_quota(state, account, entry) - state.used.get(entry.name, 0)
    return left < (images if check == "requested" else 1)


def charge(state: AccountState, model: str, images: int) -> None:
    """Count ``images`` (negative: give them back) against the model's quota."""
    state.used[model] = max(0, state.used.get(model, 0) + images)


def describe(state: AccountState, account: Account, entries: Iterable[ModelEntry], default_rps: int) -> dict[str, Any]:
    """The account's effective settings and usage, as the control plane shows them."""
    models = {}
    for entry in entries:
        rate, slots = limits(state, account, entry)
        quota = free_quota(state, account, entry)
        used = state.used.get(entry.name, 0)
        models[entry.name] = {"submit_per_second": rate, "concurrency": slots, "free_quota": quota,
                              "used": used, "remaining": max(0, quota - used)}
    return {"account": account.id, "free_tier_only": free_tier_only(state, account),
            "requests_per_second": requests_per_second(state, account, default_rps), "models": models}


class ModelChange(ModelLimits):
    """One model's (or ``"*"``'s) changes: a limit set to null goes back to the config's."""

    used: int | None = Field(None, ge=0)  # images already used (0 resets the count)
    remaining: int | None = Field(None, ge=0)  # sets used = free_quota - remaining

    @model_validator(mode="after")
    def _one_count(self) -> "ModelChange":
        if self.used is not None and self.remaining is not None:
            raise ValueError("give used or remaining, not both")
        return self


class AccountChange(BaseModel):
    """The body of ``PATCH /__mock/account``; fields left out are left alone, null clears an override."""

    model_config = ConfigDict(extra="forbid")

    free_tier_only: bool | None = None
    requests_per_second: int | None = Field(None, ge=0)
    models: dict[str, ModelChange] = Field(default_factory=dict)


def apply(state: AccountState, account: Account, change: AccountChange, catalog: Mapping[str, ModelEntry]) -> None:
    """Apply ``change``; raise ValueError (having possibly changed ``state``: apply to a copy first) if it cannot hold."""
    for name in ("free_tier_only", "requests_per_second"):
        if name in change.model_fields_set:
            setattr(state, name, getattr(change, name))
    for model, wanted in change.models.items():
        if model != "*" and model not in catalog:
            raise ValueError(f"unknown model {model!r}: use a model of the catalog, or \"*\" for all")
        if model == "*" and (wanted.used is not None or wanted.remaining is not None):
            raise ValueError('used and remaining count one model\'s images: name the model, not "*"')
        override = state.models.setdefault(model, ModelLimits())
        for name in _LIMIT_FIELDS:
            if name in wanted.model_fields_set:
                setattr(override, name, getattr(wanted, name))
    for model, wanted in change.models.items():  # counts after every quota is set
        if wanted.used is not None:
            state.used[model] = wanted.used
        if wanted.remaining is not None:
            quota = free_quota(state, account, catalog[model])
            if wanted.remaining > quota:
                raise ValueError(f"remaining {wanted.remaining} is more than {model}'s free quota {quota}: "
                                 "raise free_quota too")
            state.used[model] = quota - wanted.remaining


def parse_change(data: Any) -> AccountChange:
    """The validated change; a ValueError says what is wrong."""
    try:
        return AccountChange.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:5])
        raise ValueError(problems) from None
