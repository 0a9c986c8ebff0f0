"""Where state lives: the :class:`Store` interface and its in-memory implementation."""

from .base import Store
from .memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
