"""Where state lives: the :class:`Store` interface, its stores, and :func:`open_store` for a ``--store`` URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .base import Store, StoreState
from .memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreError", "StoreState", "check_url", "open_store"]

SCHEMES = ("memory", "sqlite:///path", "redis://host:port/db")
SYNCHRONOUS = ("OFF", "NORMAL", "FULL")  # SQLite's fsync policy: NORMAL survives kill -9, FULL a power cut too


def check_url(url: str) -> str:
    """``url`` if it names a store (see :data:`SCHEMES`), else ValueError saying what is allowed."""
    scheme = url.split(":", 1)[0] if ":" in url else url
    if scheme == "sqlite" and url.startswith("sqlite://") and _sqlite_path(url):
        options = parse_qs(urlsplit(url).query)
        unknown = set(options) - {"synchronous"}
        if unknown or _synchronous(url) not in SYNCHRONOUS:
            raise ValueError(f"store {url!r}: the only option of a sqlite store is synchronous={'|'.join(SYNCHRONOUS).lower()}")
        return url
    if url == "memory":
        return url
    if scheme in ("redis", "rediss") and urlsplit(url).hostname:
        return url
    raise ValueError(f"store {url!r}: use one of {', '.join(SCHEMES)}")


def open_store(url: str = "memory", *, alone: bool = False) -> Store:
    """The store a ``--store`` URL names: ``memory`` (the default), ``sqlite:///var/tmp/dsmock.db`` (the path
    after ``sqlite://``; ``?synchronous=full`` fsyncs each commit, ``?synchronous=off`` never does), ``redis://127.0.0.1:6379/0``.

    ``alone``: this process is the only one that will use the store (one worker), so a SQLite file is locked
    for it once (another process opening it is told the file is in use) instead of at every transaction."""
    check_url(url)
    if url == "memory":
        return MemoryStore()
    try:
        if url.startswith("sqlite:"):
            from .sqlite import SqliteStore

            store: Store = SqliteStore(_sqlite_path(url), synchronous=_synchronous(url), alone=alone)
        else:
            from .redis import RedisStore

            store = RedisStore(url)
        store.get_meta("boots")  # reach it now: a wrong path or a server that is down fails here, said plainly
    except ImportError as error:
        raise StoreError(f"the store {url} needs the redis client: pip install 'dashscope-mock[redis]' ({error})") from None
    except ValueError:
        raise
    except Exception as error:  # sqlite3's or redis' own error: the message says what is wrong
        held = " (another emulator serves this file: one process a file, or --workers to share it)" if "locked" in str(error) else ""
        raise StoreError(f"cannot open the store {url}: {error}{held}") from None
    return store


class StoreError(RuntimeError):
    """A store that cannot be opened (a path that cannot be written, a server that does not answer)."""


def _synchronous(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("synchronous", ["NORMAL"])[-1].upper()


def _sqlite_path(url: str) -> str:
    return url[len("sqlite://"):].split("?", 1)[0]
