"""Opening each kind of store for the contract suite: ``memory``, ``sqlite``, and ``redis`` when a server runs."""

from __future__ import annotations

from pathlib import Path

from mockserver.store import MemoryStore, Store, open_store

DURABLE = ["sqlite"]


def open_kind(kind: str, where: Path, *, fresh: bool = True) -> Store:
    """A store of ``kind``; ``fresh=False`` opens a second handle on the one opened before in ``where``."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return open_store(f"sqlite://{where / 'store.db'}")
    raise ValueError(kind)
