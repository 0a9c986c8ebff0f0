"""One log line per control-plane call (logger ``mockserver.control``), so a run's log shows who moved the clock.

Calls that change something (POST, PUT, PATCH, DELETE) log at INFO; reads
(the inspector polls several a second) at DEBUG. The line is ``control METHOD
PATH status=N`` as text, or a JSON object with ``log_format: json``.
"""

from __future__ import annotations

import json
import logging
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mockserver.control")
_PREFIX = "/__mock"


class ControlLog:
    def __init__(self, app: ASGIApp, log_format: str = "text") -> None:
        self.app = app
        self.log_format = log_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        level = logging.DEBUG if scope["method"] in ("GET", "HEAD") else logging.INFO
        if not log.isEnabledFor(level):
            await self.app(scope, receive, send)
            return
        logged = False

        async def watch(message: Message) -> None:
            nonlocal logged
            if message["type"] == "http.response.start":  # before the answer leaves: a client never outruns its line
                logged = True
                log.log(level, self._line(scope["method"], scope["path"], scope.get("query_string", b""), message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not logged:  # the call broke before answering
                log.log(level, self._line(scope["method"], scope["path"], scope.get("query_string", b""), None))

    def _line(self, method: str, path: str, query: bytes, status: int | None) -> str:
        target = f"{path}?{query.decode('latin-1')}" if query else path
        if self.log_format == "json":
            return json.dumps({"control": True, "method": method, "path": target, "status": status}, separators=(",", ":"))
        return f"control {method} {target} status={status}"
