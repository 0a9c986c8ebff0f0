"""OSS POST policies: issued by getPolicy, checked when the PostObject upload arrives.

A policy is base64 of ``{"expiration", "conditions"}``; its signature is
``base64(HMAC-SHA1(secret, policy))``, as OSS signs V1 POST policies. The
checks are OSS's: expiry, then each condition (exact match, ``eq``,
``starts-with``, ``content-length-range``) against the form fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from ..support.parsing import json_value
from ..support.timefmt import oss_time


def sign(secret: bytes, policy: str) -> str:
    return base64.b64encode(hmac.new(secret, policy.encode(), hashlib.sha1).digest()).decode()


def make_policy(expires_at: float, bucket: str, upload_dir: str, max_bytes: int) -> str:
    """The base64 policy getPolicy hands out."""
    document = {
        "expiration": oss_time(expires_at),
        "conditions": [
            ["content-length-range", 0, max_bytes],
            ["starts-with", "$key", upload_dir],
            {"bucket": bucket},
            {"x-oss-object-acl": "private"},
            {"x-oss-forbid-overwrite": "true"},
        ],
    }
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


@dataclass(frozen=True)
class Broken:
    """Why an upload does not satisfy its policy: ``kind`` is invalid, expired, condition, too_large, too_small."""

    kind: str
    detail: str = ""


def check(policy: str, fields: Mapping[str, str], size: int, now: float) -> Broken | None:
    """None when ``fields`` (lower-case names, ``bucket`` included) and ``size`` satisfy ``policy``."""
    try:
        document = json_value(base64.b64decode(policy, validate=True))
        expiration = _parse_time(document["expiration"])
        conditions = document["conditions"]
        if not isinstance(conditions, list):
            raise TypeError("conditions")
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        return Broken("invalid", f"the policy is not a valid document ({error})")
    if now > expiration:
        return Broken("expired")
    for condition in conditions:
        broken = _condition(condition, fields, size)
        if broken is not None:
            return broken
    return None


def _condition(condition: Any, fields: Mapping[str, str], size: int) -> Broken | None:
    text = json.dumps(condition, ensure_ascii=False)
    if isinstance(condition, dict):
        for name, value in condition.items():
            if fields.get(name.lower()) != str(value):
                return Broken("condition", text)
        return None
    if not isinstance(condition, list) or len(condition) != 3:
        return Broken("invalid", f"unknown condition {text}")
    operator, first, second = condition
    if operator == "content-length-range":
        if not isinstance(first, int) or not isinstance(second, int):
            return Broken("invalid", f"unknown condition {text}")
        if size > second:
            return Broken("too_large")
        if size < first:
            return Broken("too_small")
        return None
    if operator not in ("eq", "starts-with") or not isinstance(first, str) or not first.startswith("$"):
        return Broken("invalid", f"unknown condition {text}")
    value = fields.get(first[1:].lower(), "")
    if operator == "eq" and value != str(second):
        return Broken("condition", text)
    if operator == "starts-with" and not value.startswith(str(second)):
        return Broken("condition", text)
    return None


def _parse_time(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
