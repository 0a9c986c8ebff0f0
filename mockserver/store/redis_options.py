"""The Redis store's URL: redis-py's own, plus our decisions as query parameters.

``redis://host:port/db?prefix=dsmock:&lock_seconds=10&wait_seconds=10`` (each
optional; see :class:`mockserver.store.redis.RedisStore`). They are taken out
before redis-py sees the URL, and a bad one is a clear error at start-up.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULTS: dict[str, str | float] = {"prefix": "dsmock:", "lock_seconds": 10.0, "wait_seconds": 10.0}


def split_url(url: str, options: dict[str, str | float]) -> tuple[str, dict[str, str | float]]:
    """The URL without our query parameters, and our settings (its parameters, then ``options``), checked."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    theirs = [(name, value) for name, value in query if name not in DEFAULTS]
    settings: dict[str, str | float] = {**DEFAULTS, **{name: value for name, value in query if name in DEFAULTS}, **options}
    unknown = settings.keys() - DEFAULTS.keys()
    if unknown:
        raise ValueError(f"unknown Redis store option(s): {', '.join(sorted(unknown))}")
    for name in ("lock_seconds", "wait_seconds"):
        try:
            value = float(settings[name])
        except ValueError:
            value = math.nan
        if not 0 < value < math.inf:
            raise ValueError(f"the Redis store's {name} must be a positive number of seconds, not {settings[name]!r}")
    if not settings["prefix"]:
        raise ValueError("the Redis store's key prefix must not be empty: a reset deletes every key under it")
    return urlunsplit(parts._replace(query=urlencode(theirs))), settings
