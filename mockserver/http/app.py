"""Builds the Starlette application: DashScope's routes, the control plane, the gateway."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..results.names import BUCKETS
from ..settings.config import Settings
from ..uploads.service import BUCKET as UPLOAD_BUCKET
from . import accounts, admin, control, dashscope, finetunes, inspector, metrics, objects, state, uploads
from .compression import Compression
from .control_log import ControlLog
from .edge import Edge
from .fastpath import FastPath
from .gateway import Gateway
from .metrics import registry
from .overload import Overload
from .responses import error_response

OSS_PREFIXES = (*(f"/{bucket}/" for bucket in BUCKETS), f"/{UPLOAD_BUCKET}")  # the buckets answer as OSS does: no gateway, no gzip


def _allowed(app: Starlette, scope: Scope) -> str:
    """Every method the path is served with, over all its routes (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in app.routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def create_app(settings: Settings | None = None, *, emulator: Emulator | None = None) -> Starlette:
    """The ASGI app; pass an ``emulator`` to share one with in-process callers."""
    emulator = emulator or Emulator(settings)
    routes = list(dashscope.routes) + objects.routes + uploads.routes + finetunes.routes
    if emulator.settings.control_plane:
        routes += control.routes + admin.routes + accounts.routes + state.routes + inspector.routes + metrics.routes

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(emulator.catalog.errors, exc, request.state.request_id, request.scope["state"])

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "MethodNotAllowed" if exc.status_code == 405 else "NotFound"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(app, request.scope)
        return error_response(emulator.catalog.errors, ApiError(code, headers=headers), request.state.request_id, request.scope["state"])

    app = Starlette(
        routes=routes,
        middleware=[Middleware(Gateway, emulator=emulator, passthrough=OSS_PREFIXES)],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )
    app.router.redirect_slashes = False
    app.state.emulator = emulator
    # Outside Starlette's error middleware, so network faults reach the server's socket; compression inside the
    # edge, so a truncated answer is cut after compression, as on the wire. Plain polls are answered in one pass
    # before any of it (through the same compression); the overload guard counts every request, outermost.
    compressed = Compression(app.build_middleware_stack(), enabled=emulator.settings.compression, skip=OSS_PREFIXES)
    edge = Edge(ControlLog(compressed, emulator.settings.log_format), emulator)
    fastpath = FastPath(edge, emulator, compressed)
    overload = Overload(fastpath, emulator, compressed)
    app.middleware_stack = overload
    app.state.fastpath = fastpath  # mockserver.server.serving hands it to the protocol: plain polls at the socket
    app.state.overload = overload  # mockserver.server.serving.watch hands it the server's count of requests in flight
    app.state.metrics = registry(emulator, overload.in_flight)
    return app
