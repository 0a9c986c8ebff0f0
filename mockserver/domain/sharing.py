"""The clock and the fault rules of an emulator whose store other processes share.

With ``--workers`` or several emulators on one SQLite file or Redis server,
each process holds its own :class:`~.clock.Clock` and fault rules, so each is
kept as a named document in the store (``Store.get_meta``): a process adopts
the stored one when it starts (the first process, or the one before a restart,
wrote it), re-reads it at the start of every request (:meth:`Sharing.pull`:
another process may have advanced the clock or fired a rule), and changes it
only inside a store transaction that re-reads it first, so two processes
firing one counted rule or advancing the clock at once never lose a change.
On the in-memory store nothing of this runs. A process's ids and URL secret
are settled against the store once, when it starts.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import contextmanager
from typing import Iterator, Protocol

from ..store import Store
from .ids import IdFactory

log = logging.getLogger("mockserver")


class Document(Protocol):
    changing: object

    def dump(self) -> str: ...

    def load(self, text: str) -> None: ...


class _Shared:
    """One document: the object in this process and the text the store holds."""

    def __init__(self, store: Store, name: str, document: Document) -> None:
        self._store, self._name, self._document = store, name, document
        self._seen: str | None = None

    def adopt(self) -> None:
        """Take the stored document, or store this process's if there is none yet (first writer wins)."""
        mine = self._document.dump()
        kept = self._store.add_meta(self._name, mine)
        if kept != mine:
            self._document.load(kept)
        self._seen = kept

    def pull(self) -> None:
        text = self._store.get_meta(self._name)
        if text is not None and text != self._seen:
            self._document.load(text)
            self._seen = text

    @contextmanager
    def changing(self) -> Iterator[None]:
        with self._store.transaction():
            self.pull()
            yield
            text = self._document.dump()
            if text != self._seen:
                self._store.put_meta(self._name, text)
                self._seen = text


class Sharing:
    """Binds a process's clock and fault rules to the store's copies."""

    def __init__(self, store: Store, **documents: Document) -> None:
        self._store = store
        self._shared = [_Shared(store, name, document) for name, document in documents.items()]
        for shared, document in zip(self._shared, documents.values()):
            shared.adopt()
            document.changing = shared.changing

    def pull(self) -> None:
        """Catch up with what other processes changed (at the start of a request).

        A store that cannot be read here is left to fail the request's own store calls, which answer
        DashScope's 500 ``InternalError``; this only says so in the log."""
        try:
            self._store.begin_request()
            for shared in self._shared:
                shared.pull()
        except Exception as error:  # the back end is down or locked (sqlite3's, redis' own errors)
            log.warning("cannot read the shared clock and fault rules from the store: %s", error)


def process_ids(store: Store, seed: int | None) -> IdFactory:
    """This process's ids: a seed's stream as given on a store's first start; on a restart or in another
    worker a stream of its own (the seed and the start's number), so no id is handed out twice."""
    boot = store.boot()
    return IdFactory(seed if boot == 1 or seed is None else f"{seed}/{boot}")


def url_secret(store: Store, configured: str | None) -> str:
    """The secret result URLs are signed with: the configured one, else a random one kept in a shared store,
    so a URL one process signed verifies in every other and after a restart."""
    secret = configured or secrets.token_hex(16)
    return store.add_meta("url_secret", secret) if store.shared and not configured else secret
