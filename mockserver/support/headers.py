"""A request's headers as the domain reads them: a few look-ups by name.

The emulator's submit reads about five headers. Starlette's ``Headers`` answers
``get`` through the ``Mapping`` ABC (a Python-level detour per call), which
was a measurable share of a submit, so the submit route hands the domain
:class:`RawHeaders` over the ASGI list instead. A plain ``dict`` (tests, other
callers) serves as well: the domain asks only for :class:`HeaderLookup`.
"""

from __future__ import annotations

from typing import Protocol


class HeaderLookup(Protocol):
    def get(self, name: str, default: str = ..., /) -> str | None: ...


class RawHeaders:
    """``get`` on an ASGI scope's ``headers`` list: the first value of a name, as ``Headers.get`` gives."""

    __slots__ = ("_first",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._first = dict(reversed(raw))  # built in C; reversed, so the first of a repeated name wins

    def get(self, name: str, default: str | None = None) -> str | None:
        key = _KEYS.get(name)
        if key is None:
            key = _key(name)
        value = self._first.get(key)
        return default if value is None else value.decode("latin-1")

    def first(self, name: bytes) -> str | None:
        """The first value of ``name`` as the ASGI list spells it (lower-case bytes), as :meth:`get` gives it."""
        value = self._first.get(name)
        return None if value is None else value.decode("latin-1")


_KEYS: dict[str, bytes] = {}  # names asked for, as ASGI spells them: the code asks for a few, each many times


def _key(name: str) -> bytes:
    key = name.lower().encode("latin-1")  # ASGI servers give the names lower-case
    if len(_KEYS) < 64:  # bounded, whatever asks
        _KEYS[name] = key
    return key
