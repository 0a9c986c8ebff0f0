"""The guarded download of one input URL: policy per hop, pinned addresses, bounded in time and bytes.

Redirects are followed by hand so every hop is judged by :mod:`.policy`
before a connection is made; a host name is resolved here (``getaddrinfo`` on
the loop) and the connection goes to an address that was checked, so a name
cannot resolve to a forbidden address after the check. The body is streamed
and reading stops as soon as it passes the cap. The emulator's own files are
read in-process (``own``), never over HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Awaitable, Callable
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from ..support.streams import TooLarge, read_capped
from . import policy

_MARGIN = 0.05  # seconds: a uniform refusal answers just before the whole download's timeout would
OwnFiles = Callable[[str], "Awaitable[bytes] | None"]  # None: not one of ours


class FetchError(Exception):
    """Why a download failed, named as ``contracts/validation.yaml`` names its report:
    ``image_refused``, ``image_timeout``, ``image_download`` or ``image_size``."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    policy: policy.FetchPolicy
    allow_link_local: bool
    connect_seconds: float
    total_seconds: float  # the whole download, redirects included
    max_redirects: int
    max_bytes: int


async def fetch(url: str, limits: Limits, own: OwnFiles) -> bytes | None:
    """The bytes behind ``url``; None when the policy accepts it unfetched; else :class:`FetchError`."""
    deadline = asyncio.get_running_loop().time() + limits.total_seconds - _MARGIN
    try:
        return await asyncio.wait_for(_follow(url, limits, own, deadline), limits.total_seconds)
    except asyncio.TimeoutError:
        raise FetchError("image_timeout") from None


async def _follow(url: str, limits: Limits, own: OwnFiles, deadline: float) -> bytes | None:
    timeout = httpx.Timeout(limits.total_seconds, connect=limits.connect_seconds)
    async with httpx.AsyncClient(timeout=timeout, verify=_tls(), follow_redirects=False, trust_env=False) as client:
        for _ in range(limits.max_redirects + 1):
            parts = _split(url)
            mine = own(url)
            if mine is not None:
                return await mine
            started = asyncio.get_running_loop().time()
            verdict: policy.Verdict | None = None
            try:
                verdict = await _judge(parts.hostname, limits)
                if verdict.action == "skip":
                    return None
                if verdict.action == "refuse":
                    raise FetchError("image_refused")
                location = await _get(client, url, verdict.addresses, limits.max_bytes)
            except FetchError as error:
                if error.kind in ("image_refused", "image_timeout") and not _on_this_machine(verdict):
                    raise await _unreached(min(started + limits.connect_seconds, deadline)) from None
                raise
            if isinstance(location, bytes):
                return location
            url = urljoin(url, location)
    raise FetchError("image_download")  # too many redirects


def _on_this_machine(verdict: policy.Verdict | None) -> bool:
    return verdict is not None and verdict.action == "fetch" and all(item.is_loopback for item in verdict.addresses)


async def _unreached(until: float) -> FetchError:
    """A host off this machine that the policy refuses, that refuses the connection, or that does not
    answer: all three read the same (``image_refused``) after the same time (the connect timeout), so
    the emulator cannot be used to tell which addresses and ports exist on a network."""
    delay = until - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
    return FetchError("image_refused")


def _split(url: str) -> SplitResult:
    """The parts of an http(s) URL with a host and a valid port; anything else cannot be downloaded."""
    try:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname and (parts.port is None or parts.port > 0):
            return parts
    except ValueError:  # a bad IPv6 literal or port
        pass
    raise FetchError("image_download")


async def _judge(host: str, limits: Limits) -> policy.Verdict:
    resolved: list[policy.Address] = []
    if policy.needs_lookup(host, limits.policy):
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise FetchError("image_refused") from None
        resolved = [address for info in infos if (address := policy.literal(str(info[4][0]))) is not None]
    return policy.decide(host, resolved, limits.policy, limits.allow_link_local)


async def _get(client: httpx.AsyncClient, url: str, addresses: tuple[policy.Address, ...], cap: int) -> bytes | str:
    """The body of a 200, or the Location of a redirect; tries each checked address in turn."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    for number, address in enumerate(addresses):
        netloc = f"[{address}]" if address.version == 6 else str(address)
        if parts.port is not None:
            netloc += f":{parts.port}"
        pinned = parts._replace(netloc=netloc).geturl()
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            async with client.stream("GET", pinned, headers={"Host": parts.netloc.rpartition("@")[2]}, extensions=extensions) as response:
                if response.is_redirect and response.headers.get("location"):
                    return response.headers["location"]
                if response.status_code != 200:
                    raise FetchError("image_download")
                return await _read(response, cap)
        except httpx.ConnectTimeout:
            raise FetchError("image_timeout") from None
        except httpx.ConnectError:
            if number == len(addresses) - 1:
                raise FetchError("image_refused") from None
        except httpx.TimeoutException:
            raise FetchError("image_timeout") from None
        except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError, ValueError):
            raise FetchError("image_download") from None
    raise FetchError("image_refused")


async def _read(response: httpx.Response, cap: int) -> bytes:
    try:
        return await read_capped(response.aiter_bytes(), cap, response.headers.get("content-length"))
    except TooLarge:
        raise FetchError("image_size") from None


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every download (making one per client costs milliseconds)."""
    return ssl.create_default_context()
