"""Facts worked out once per model entry instead of once per request.

The catalog is fixed once loaded, so what a submit derives from an entry alone
(its fields' paths and defaults, which of its inputs are URLs or images) is
the same for every request. :func:`per_entry` memoises such a function by the
entry itself (its ``id``, with the entry kept so an id is never mistaken for a
dead entry's); a process holds one catalog, tests a few, and past a bound the
memo starts afresh, so it never grows without limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:  # the schema memoises with this too
    from .schema import ModelEntry

T = TypeVar("T")
KEPT = 4096  # entries one memo remembers


def per_entry(derive: Callable[["ModelEntry"], T]) -> Callable[["ModelEntry"], T]:
    """``derive``, computed once per entry."""
    memo: dict[int, tuple[ModelEntry, T]] = {}

    def derived(entry: ModelEntry) -> T:
        known = memo.get(id(entry))
        if known is not None and known[0] is entry:
            return known[1]
        if len(memo) >= KEPT:
            memo.clear()
        value = derive(entry)
        memo[id(entry)] = (entry, value)
        return value

    derived.__doc__ = derive.__doc__
    return derived
