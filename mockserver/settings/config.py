"""Settings: the command line and an optional YAML file, checked by pydantic.

Every behaviour the spec marks as our decision has a setting here, so a user
who learns how the real service behaves can switch it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from PIL import ImageFont
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..domain.clock import LATEST, MAX_RATE
from ..faults.rules import Rule

DEFAULT_PORT = 8580
MAX_HOURS = 87600.0  # ten years


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelLimits(_Config):
    """Per-account overrides of a model's published limits and free quota."""

    submit_per_second: int | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)
    free_quota: int | None = Field(None, ge=0)  # images; default the catalog's billing.free_quota


class AccountConfig(_Config):
    """Several API keys that belong to one main account (they share tasks and limits)."""

    id: str = Field(min_length=1)
    keys: list[str] = Field(default_factory=list)
    limits: dict[str, ModelLimits] = Field(default_factory=dict)  # model name, or "*" for all
    requests_per_second: int | None = Field(None, ge=0)  # query, cancel and list, each
    free_tier_only: bool = False  # a submit past the free quota is 403 AllocationQuota.FreeTierOnly


class Settings(_Config):
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    public_url: str | None = None  # base of result URLs; default: the address a request came to
    speed: float = Field(1.0, ge=0.001)  # task durations run this many times faster; inf = instant
    seed: int | None = None
    clock: Literal["real", "scaled", "manual"] = "real"
    clock_rate: float = Field(1.0, gt=0, le=MAX_RATE)  # with clock=scaled
    clock_start: float | None = Field(None, ge=0, le=LATEST)  # epoch seconds the clock starts at; default now
    # Durations at most ten years, so every date the emulator prints stays a date (with the clock's LATEST).
    retention_hours: float = Field(24.0, gt=0, le=MAX_HOURS)  # a task reads UNKNOWN this long after it ended
    result_url_hours: float = Field(24.0, gt=0, le=MAX_HOURS)  # result URLs expire this long after the end
    task_timeout_hours: float = Field(3.0, gt=0, le=MAX_HOURS)  # InternalError.Timeout after this long running
    accept_any_key: bool = True  # every unlisted non-empty key is an account of its own
    reject_keys: list[str] = Field(default_factory=list)
    accounts: list[AccountConfig] = Field(default_factory=list)
    requests_per_second: int = Field(20, ge=0)  # query, cancel and list, per account
    max_body_bytes: int = Field(20 * 1024 * 1024, gt=0)  # a request body (not an upload's): 413 past it
    max_state_bytes: int = Field(512 * 1024 * 1024, gt=0)  # PUT /__mock/state: a snapshot of many tasks is big
    max_connections: int = Field(1000, ge=1)  # open at once; past it a connection gets a 503 and is closed
    header_timeout_seconds: float = Field(10.0, gt=0, le=3600)  # a connection waiting for request headers is closed
    keep_alive_seconds: float = Field(5.0, gt=0, le=3600)  # an idle kept-alive connection is closed (uvicorn's)
    body_timeout_seconds: float = Field(30.0, gt=0, le=3600)  # a whole request body: 408 past it
    compression: bool = True  # gzip DashScope's answers when the client accepts it, as the real gateway does
    unknown_model: Literal["InvalidParameter", "ModelNotFound"] = "InvalidParameter"
    url_secret: str | None = None  # HMAC secret of result URLs; default: random per process
    control_plane: bool = True
    image_cache_mb: int = Field(64, ge=0)  # rendered result images kept in memory (LRU by bytes)
    label_font: str | None = None  # a TrueType/OpenType file for the placeholders' labels; default Pillow's own
    upload_max_file_mb: int = Field(1024, ge=1)  # getPolicy's max_file_size_mb and content-length-range (captured 2024)
    upload_hold_max_mb: int = Field(100, ge=1)  # the largest upload held in memory; larger ones are EntityTooLarge
    upload_hours: float = Field(48.0, gt=0, le=MAX_HOURS)  # uploaded files resolve this long after the upload
    upload_policy_seconds: int = Field(300, ge=1)  # getPolicy's expire_in_seconds
    admin_token: str | None = None  # with a token the control plane serves any client that sends it; else loopback only
    control_hosts: list[str] = Field(default_factory=list)  # Host names the control plane answers for besides loopback ones; "*" any
    faults: list[Rule] = Field(default_factory=list)  # fault rules armed at start and after a full reset
    directives: bool = True  # obey [mock:...] in prompts and the directive header
    directive_header: str = "X-Mock-Directive"
    journal_size: int = Field(10_000, ge=0)  # requests the journal keeps (a ring buffer)
    fine_tune_jobs_kept: int = Field(1000, ge=1)  # fine-tune jobs an account keeps; past it the oldest finished go first
    store: str = "memory"  # memory | sqlite:///path | redis://host:port/db (mockserver.store.open_store)
    workers: int = Field(1, ge=1, le=64)  # processes serving one port; more than 1 needs a sqlite or redis store
    metrics_accounts: int = Field(20, ge=0)  # accounts with a label of their own in /__mock/metrics; the rest are "other"
    max_in_flight: int = Field(256, ge=0)  # DashScope requests served at once; past it 429 Throttling at once (0: no guard)
    max_renders_in_flight: int = Field(8, ge=0)  # result images rendering at once; past it a download is 503 (0: no bound)
    log_format: Literal["text", "json"] = "text"  # the per-request log line (logger mockserver.requests)
    log_lines_per_second: int = Field(1000, ge=0)  # request lines logged a second at most (0: all); one line counts the rest
    # input images (mockserver.inputs): any host / loopback hosts only (others accepted unfetched) / none
    fetch_inputs: Literal["any", "loopback", "none"] = "loopback"
    fetch_allow_link_local: bool = False  # fetch 169.254.0.0/16, fe80::/10 and fd00:ec2::254 (cloud metadata)
    fetch_connect_seconds: float = Field(5.0, gt=0)
    fetch_timeout_seconds: float = Field(10.0, gt=0)  # the whole download, redirects included
    fetch_max_redirects: int = Field(5, ge=0)
    fetch_max_mb: int = Field(10, ge=1, le=1024)
    max_decodes: int = Field(2, ge=1, le=64)  # input images decoded at once (each holds its canvas, up to 64 MB)  # the download cap for an image input whose model names none
    # free-tier-only accounts: "requested" refuses a submit asking more images than remain; "exhausted" only once none remain
    free_tier_check: Literal["requested", "exhausted"] = "requested"

    @field_validator("accounts")
    @classmethod
    def _keys_once(cls, accounts: list[AccountConfig]) -> list[AccountConfig]:
        seen: set[str] = set()
        for account in accounts:
            for key in account.keys:
                if key in seen:
                    raise ValueError(f"API key {key[:6]}... is listed under two accounts")
                seen.add(key)
        return accounts

    @field_validator("label_font")
    @classmethod
    def _loadable_font(cls, path: str | None) -> str | None:
        if path is not None:
            try:
                ImageFont.truetype(path, 12)
            except OSError as error:
                raise ValueError(f"label_font {path!r} is not a font file Pillow can load ({error})") from None
        return path

    @field_validator("store")
    @classmethod
    def _store_url(cls, url: str) -> str:
        from ..store import check_url  # the store package imports the domain, which imports these settings

        return check_url(url)

    @model_validator(mode="after")
    def _workers_share(self) -> "Settings":
        if self.workers > 1 and self.store == "memory":
            raise ValueError("workers: more than one worker needs a store they share: --store sqlite:///path or redis://host:port/db")
        return self

    @classmethod
    def from_file(cls, path: str | Path, **overrides: object) -> "Settings":
        """Read a YAML file; command-line values (not None) win over the file's."""
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config file must be a mapping")
        data.update({key: value for key, value in overrides.items() if value is not None})
        return cls.model_validate(data)
