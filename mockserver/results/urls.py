"""Result URLs: OSS-shaped, signed and expiring, on the emulator's own host.

A real result is ``https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/1d/d4/20240301/8d820c8d/<uuid>-1.png
?Expires=...&OSSAccessKeyId=...&Signature=...`` (names: :mod:`.names`). The
emulator serves the same key under ``/<bucket>/`` on its own host, and signs it as OSS does (V1: an
HMAC-SHA1 over the verb, the expiry and ``/bucket/key``), so a client that
checks or rewrites those URLs sees what it would see for real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .names import ObjectName

ACCESS_KEY_ID = "LTAI5tMockDashScopeEmu"


@dataclass(frozen=True)
class ResultSigner:
    secret: bytes
    access_key_id: str = ACCESS_KEY_ID

    def signature(self, bucket: str, key: str, expires: int, verb: str = "GET") -> str:
        resource = f"/{bucket}/{key}"
        to_sign = f"{verb}\n\n\n{expires}\n{resource}".encode()
        return base64.b64encode(hmac.new(self.secret, to_sign, hashlib.sha1).digest()).decode()

    def url(self, base_url: str, name: ObjectName, expires: int) -> str:
        """The absolute signed URL, query in OSS's order: Expires, OSSAccessKeyId, Signature."""
        query = urlencode(
            [("Expires", expires), ("OSSAccessKeyId", self.access_key_id), ("Signature", self.signature(name.bucket, name.key, expires))]
        )
        return f"{base_url.rstrip('/')}/{name.bucket}/{quote(name.key)}?{query}"

    def verify(self, bucket: str, key: str, expires: str | None, access_key_id: str | None, signature: str | None) -> str | None:
        """None when the query signs ``bucket``/``key``; otherwise why not (the OSS error code)."""
        if expires is None or access_key_id is None or signature is None:
            return "AccessDenied"
        if access_key_id != self.access_key_id or not (expires.isascii() and expires.isdigit()):
            return "SignatureDoesNotMatch"
        if not hmac.compare_digest(self.signature(bucket, key, int(expires)), signature):
            return "SignatureDoesNotMatch"
        return None
