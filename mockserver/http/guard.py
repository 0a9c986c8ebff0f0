"""Who may use the control plane (``/__mock/``): admission judged before any route runs.

A browser is the threat: a page the developer visits can send a "simple"
cross-origin POST (``text/plain``, no preflight) to ``127.0.0.1``, and a page
on a rebinding domain can even read the answers. So, in this order:

1. the client: the socket's peer address must be loopback (an IPv4 peer seen
   through an IPv6 socket, ``::ffff:127.0.0.1``, counts), never a forwarded
   header; or the request carries the admin token;
2. the ``Host`` must be an address, a loopback name (``localhost``, ``*.localhost``) or one
   of ``control_hosts``: a page on a rebinding domain sends its own name;
3. a write (any method but GET/HEAD/OPTIONS) needs a JSON content type (or no
   body at all) and an ``Origin`` that is absent or the emulator's own: a browser
   that logged in to the inspector with the token sends it on forged requests too.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Iterable
from urllib.parse import urlsplit

from starlette.types import Scope, Send

from ..settings.config import Settings
from .admin_token import presented

Refusal = tuple[int, dict[str, str]]
_READS = ("GET", "HEAD", "OPTIONS")
_LOCAL_NAMES = ("localhost", "localhost.")


def refusal(scope: Scope, send: Send, token: str | None, hosts: Iterable[str]) -> Refusal | None:
    """Why the control plane is refused to this request, or None when it is admitted."""
    headers = _headers(scope)
    if token is not None:
        given = presented(headers.get("authorization"), headers.get("x-mock-admin-token"))
        if not hmac.compare_digest(given.encode(), token.encode()):
            return 401, {"code": "Unauthorized", "message": "the control plane needs the admin token: send "
                         "Authorization: Bearer <token> or X-Mock-Admin-Token: <token> "
                         "(a browser: any user, the token as password)"}
    elif not loopback(peer(scope, send)):
        return 403, {"code": "AccessDenied", "message": "the control plane is served to loopback clients only; "
                     "set admin_token to reach it from elsewhere"}
    host = headers.get("host", "")
    if transport_of(send) is not None and not own_host(host, hosts):  # in process there is no browser to fool
        return 403, {"code": "AccessDenied", "message": f"the control plane does not answer for Host {host!r}; "
                     "use a loopback name or add the name to control_hosts"}
    if scope["method"] in _READS:
        return None
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, host):
        return 403, {"code": "AccessDenied", "message": "cross-origin writes to the control plane are refused"}
    if not _json_or_empty(headers):
        return 415, {"code": "UnsupportedMediaType", "message": "control-plane writes need Content-Type: application/json"}
    return None


def configured_hosts(settings: Settings) -> tuple[str, ...]:
    """The names besides loopback ones the control plane answers for: ``control_hosts``, the address
    the emulator was told to listen on (unless a wildcard) and the host of ``public_url``."""
    names = list(settings.control_hosts)
    if settings.host not in ("0.0.0.0", "::", ""):
        names.append(settings.host.strip("[]"))
    if settings.public_url:
        name = _hostname(urlsplit(settings.public_url).netloc)
        if name:
            names.append(name)
    return tuple(names)


def peer(scope: Scope, send: Send) -> str | None:
    """The socket's peer address: uvicorn's transport when there is one (proxy headers rewrite
    ``scope["client"]``), else the scope's client (in-process ASGI)."""
    transport = transport_of(send)
    if transport is not None:
        name = transport.get_extra_info("peername")
        if name:
            return str(name[0])
    client = scope.get("client")
    return None if client is None else str(client[0])


def transport_of(send: Send) -> asyncio.Transport | None:
    """The server's socket transport behind ``send``: uvicorn's ``send`` is a method of its request cycle;
    None in process (httpx's ``ASGITransport``). Duck-typed: uvloop's transports do not derive from
    ``asyncio.Transport``, and a check of the class would let every uvloop client pass as in-process."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if all(hasattr(transport, name) for name in ("abort", "close", "get_extra_info")) else None


def loopback(address: str | None) -> bool:
    """Loopback, or no address at all (in-process ASGI, a Unix socket)."""
    if address is None:
        return True
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def own_host(host: str, extra: Iterable[str]) -> bool:
    """Whether ``Host`` (with or without a port) names the emulator."""
    name = _hostname(host)
    if name is None:
        return False
    if name in _LOCAL_NAMES or name.endswith(".localhost") or _is_address(name):
        return True  # a rebinding page's requests carry its domain name, never an address
    allowed = {item.lower() for item in extra}
    return "*" in allowed or name in allowed


def _hostname(host: str) -> str | None:
    if not host:
        return None
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return None
    return name.lower() if name else None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _same_origin(origin: str, host: str) -> bool:
    """``Origin: scheme://host[:port]`` names the same authority the request was sent to."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


def _json_or_empty(headers: dict[str, str]) -> bool:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return True
    empty = headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in headers
    return empty and not media


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
