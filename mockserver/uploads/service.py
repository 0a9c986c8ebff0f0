"""Temporary uploads: the SDK's ``file://`` flow, end to end on the emulator.

1. ``getPolicy`` hands an account a signed POST policy for a fresh folder
   ``dashscope-instant/<account hash>/<date>/<uuid>`` of the upload bucket;
2. the client posts the file there (OSS PostObject, no API key), and the
   upload is checked against that policy; the file lives 48 hours on the clock;
3. a submit names it ``oss://<key>``; it resolves only with
   ``X-DashScope-OssResourceResolve: enable``, only for the account the folder
   was issued to, and only while the file lives. Otherwise the task ends FAILED
   with ``InvalidURL`` (the worker, not the gateway, resolves inputs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from ..catalog import ModelEntry
from ..catalog.derived import per_entry
from ..catalog.validate import Failure
from ..domain.clock import Clock
from ..domain.ids import IdFactory
from ..settings.config import Settings
from ..store import Store
from ..support.headers import HeaderLookup
from ..support.timefmt import CHINA
from . import policy

BUCKET = "dashscope-file-mgr"
ROOT = "dashscope-instant"
HOUR = 3600.0
MB = 1024 * 1024
CAPACITY_LIMIT_MB = 999999999  # what getPolicy reports (decision: no account-wide cap is emulated)


@dataclass(frozen=True)
class Refused:
    """Why a PostObject upload is refused: a :class:`policy.Broken` kind, or
    ``anonymous``, ``signature``, ``malformed``, ``exists``."""

    kind: str
    detail: str = ""


class Uploads:
    def __init__(self, store: Store, clock: Clock, ids: IdFactory, secret: bytes, access_key_id: str, settings: Settings) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._secret = secret
        self.access_key_id = access_key_id
        self._settings = settings

    @property
    def max_bytes(self) -> int:
        """What the policy allows (``max_file_size_mb``, ``content-length-range``)."""
        return self._settings.upload_max_file_mb * MB

    @property
    def hold_bytes(self) -> int:
        """The largest upload the emulator reads into memory; a larger one is OSS's EntityTooLarge."""
        return min(self.max_bytes, self._settings.upload_hold_max_mb * MB)

    def policy(self, account_id: str, base_url: str) -> dict[str, Any]:
        """The ``data`` of a getPolicy answer, keys in the captured order."""
        now = self._clock.now()
        day = datetime.fromtimestamp(now, CHINA).strftime("%Y-%m-%d")
        upload_dir = f"{ROOT}/{_owner(account_id)}/{day}/{self._ids.task_id()}"
        seconds = self._settings.upload_policy_seconds
        document = policy.make_policy(now + seconds, BUCKET, upload_dir, self.max_bytes)
        return {
            "policy": document,
            "signature": policy.sign(self._secret, document),
            "upload_dir": upload_dir,
            "upload_host": f"{base_url.rstrip('/')}/{BUCKET}",
            "expire_in_seconds": seconds,
            "max_file_size_mb": self._settings.upload_max_file_mb,
            "capacity_limit_mb": CAPACITY_LIMIT_MB,
            "oss_access_key_id": self.access_key_id,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }

    def accept(self, fields: Mapping[str, str], data: bytes | None) -> Refused | None:
        """Check a PostObject form (lower-case field names) and keep the file; None when stored."""
        if data is None or not fields.get("key"):
            return Refused("malformed", "key" if data is not None else "file")
        if len(data) > self.hold_bytes:  # within the policy, perhaps, but more than the emulator holds
            return Refused("too_large")
        if not all(fields.get(name) for name in ("ossaccesskeyid", "signature", "policy")):
            return Refused("anonymous")
        if fields["ossaccesskeyid"] != self.access_key_id or fields["signature"] != policy.sign(self._secret, fields["policy"]):
            return Refused("signature")
        now = self._clock.now()
        broken = policy.check(fields["policy"], {**fields, "bucket": BUCKET}, len(data), now)
        if broken is not None:
            return Refused(broken.kind, broken.detail)
        key = fields["key"]
        with self._store.transaction():
            if fields.get("x-oss-forbid-overwrite", "").lower() == "true" and self._store.get_upload(key, now) is not None:
                return Refused("exists")
            self._store.put_upload(key, data, now + self._settings.upload_hours * HOUR, now)
        return None

    def forget(self, account_id: str) -> int:
        """Drop every file uploaded to the account's folders (a one-account reset)."""
        return self._store.drop_uploads(f"{ROOT}/{_owner(account_id)}/")

    def unresolved(self, entry: ModelEntry, input_: Mapping[str, Any], headers: HeaderLookup, account_id: str, message: str) -> Failure | None:
        """The InvalidURL failure of the first ``oss://`` input that cannot be resolved, if any."""
        enabled, now = None, 0.0  # the header and the clock are read at the first oss:// URL (most submits have none)
        for name in _url_fields(entry):
            value = input_.get(name)
            for url in value if isinstance(value, list) else [value]:
                if isinstance(url, str) and url.lower().startswith("oss://"):
                    if enabled is None:
                        enabled = headers.get("x-dashscope-ossresourceresolve", "").strip().lower() == "enable"
                        now = self._clock.now()
                    if not enabled or self.resolve(url, account_id, now) is None:
                        return Failure("InvalidURL", message)
        return None

    def resolve(self, url: str, account_id: str, now: float) -> bytes | None:
        """The bytes an ``oss://`` URL names, if the account may read them and they still live."""
        key = url[len("oss://") :]
        parts = key.split("/")
        if len(parts) < 3 or parts[0] != ROOT or parts[1] != _owner(account_id):
            return None
        return self._store.get_upload(key, now)


@per_entry
def _url_fields(entry: ModelEntry) -> tuple[str, ...]:
    """The input fields that hold a URL or a list of URLs."""
    return tuple(name for name, rule in entry.input.items()
                 if rule.type == "url" or (rule.items is not None and rule.items.type == "url"))


def _owner(account_id: str) -> str:
    return hashlib.md5(account_id.encode()).hexdigest()
