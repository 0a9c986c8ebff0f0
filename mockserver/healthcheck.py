"""``python -m mockserver.healthcheck [URL]``: exit 0 when the emulator at URL answers ``/__mock/health``.

The container recipe's health check. It sends the admin token from
``DASHSCOPE_MOCK_ADMIN_TOKEN`` when one is set, as the control plane then asks.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import httpx

from .http.admin_token import ENVIRONMENT

DEFAULT_URL = "http://127.0.0.1:8580"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    url = (args[0] if args else DEFAULT_URL).rstrip("/")
    token = os.environ.get(ENVIRONMENT)
    headers = {"X-Mock-Admin-Token": token} if token else {}
    try:
        response = httpx.get(f"{url}/__mock/health", headers=headers, timeout=3)
    except httpx.HTTPError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"unhealthy: {url}/__mock/health answered {response.status_code}: {response.text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
