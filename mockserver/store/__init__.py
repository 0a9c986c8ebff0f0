"""Where state lives: the :class:`Store` interface and its in-memory implementation."""

from .base import Store, StoreState
from .memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreState"]
