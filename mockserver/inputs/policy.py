"""Which input URLs the emulator may fetch, decided per hop before any connection is made.

``fetch_inputs`` is ``any`` (every host but the forbidden ones), ``loopback``
(only hosts that are loopback addresses, so an offline test suite never leaves
the machine; other hosts are accepted as if valid, without a look-up) or
``none`` (nothing is fetched, every URL is accepted). Link-local and cloud
metadata addresses (and IPv6 forms that embed one) are never fetched unless
``fetch_allow_link_local`` says so: a host name is refused when ANY of its addresses is one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

FetchPolicy = Literal["any", "loopback", "none"]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Link-local, and every cloud metadata or host-agent address we know of: Alibaba Cloud 100.100.100.200,
# Oracle Cloud 192.0.0.192, Azure's wire server 168.63.129.16, AWS fd00:ec2::254, GCP fd20:ce::254
# (AWS, GCP, Azure and others also answer on 169.254.169.254, inside the link-local range).
_FORBIDDEN = tuple(ipaddress.ip_network(net) for net in (
    "169.254.0.0/16", "100.100.100.200/32", "192.0.0.192/32", "168.63.129.16/32",
    "fe80::/10", "fd00:ec2::254/128", "fd20:ce::254/128",
))
# IPv6 prefixes whose last 32 bits carry an IPv4 address: IPv4-compatible (::a.b.c.d), IPv4-mapped,
# IPv4-translated, NAT64 (well-known and local-use); 6to4 (2002::/16) and Teredo are read by ipaddress.
_EMBEDDING = tuple(ipaddress.ip_network(net) for net in (
    "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48",
))
_LOCAL_NAMES = ("localhost", "localhost.")


@dataclass(frozen=True)
class Verdict:
    """``fetch`` (connect to ``addresses``), ``skip`` (accept unfetched) or ``refuse`` (a forbidden address)."""

    action: Literal["fetch", "skip", "refuse"]
    addresses: tuple[Address, ...] = ()


def literal(host: str) -> Address | None:
    """The address a host spells out, if it is one (``[::1]`` without brackets, too)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def forbidden(address: Address) -> bool:
    """Link-local or a cloud metadata address, or an IPv6 address that embeds one."""
    return any(_listed(item) for item in (address, *embedded(address)))


def _listed(address: Address) -> bool:
    return any(address in network for network in _FORBIDDEN if network.version == address.version)


def embedded(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (translation and tunnelling forms); none for IPv4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)] if any(address in net for net in _EMBEDDING) else []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def needs_lookup(host: str, policy: FetchPolicy) -> bool:
    """Whether deciding needs the host's addresses: never under ``none``; under ``loopback``
    only for ``localhost`` (answered by the hosts file, not the network)."""
    if policy == "none" or literal(host) is not None:
        return False
    return policy == "any" or host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost")


def decide(host: str, resolved: list[Address], policy: FetchPolicy, allow_link_local: bool) -> Verdict:
    """The verdict on one hop to ``host``, whose addresses are ``resolved`` (when looked up)."""
    if policy == "none":
        return Verdict("skip")
    address = literal(host)
    addresses = [address] if address is not None else resolved
    if not allow_link_local and any(forbidden(item) for item in addresses):
        return Verdict("refuse")
    if not addresses:  # under loopback, a name not looked up; under any, one that did not resolve
        return Verdict("skip" if policy == "loopback" else "refuse")
    if policy == "loopback" and not all(item.is_loopback for item in addresses):
        return Verdict("skip")
    return Verdict("fetch", tuple(addresses))
