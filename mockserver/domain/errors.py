"""The one exception the domain raises to answer with a DashScope error.

Routes and the lifecycle raise :class:`ApiError` with a catalog code; the HTTP
layer renders it, with the status and exact message from the error catalog, in
one place (``mockserver.http.responses``).
"""

from __future__ import annotations


class ApiError(Exception):
    """A DashScope error answer: a catalog code, optionally a message variant or text."""

    def __init__(
        self,
        code: str,
        variant: str | None = None,
        *,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code if message is None else f"{code}: {message}")
        self.code = code
        self.variant = variant
        self.message = message
        self.headers = headers or {}
