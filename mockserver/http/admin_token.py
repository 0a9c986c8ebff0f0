"""How a client presents the control plane's admin token: a header for programs, Basic auth for browsers.

A browser cannot add ``X-Mock-Admin-Token`` to a page it opens, so the
inspector (``/__mock/ui/``) is reached with HTTP Basic authentication: any
user name, the token as the password. A refusal carries the challenge that
makes a browser ask for it.
"""

from __future__ import annotations

import base64
import binascii

from ..domain.accounts import _bearer

CHALLENGE = 'Basic realm="dashscope-mock control plane", charset="UTF-8"'
ENVIRONMENT = "DASHSCOPE_MOCK_ADMIN_TOKEN"  # serve takes admin_token from it; the container's health check sends it


def presented(authorization: str | None, header_token: str | None) -> str:
    """The token the request carries: Basic's password, a Bearer value, or ``X-Mock-Admin-Token``."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return _bearer(authorization) or header_token or ""
