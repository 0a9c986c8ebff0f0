"""Loads and indexes the catalog from the ``contracts`` package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import yaml

import contracts

from .errors import ErrorCatalog
from .finetune import FineTuneEntry
from .schema import ModelEntry


class Catalog:
    """The models, the error catalog and the default code and message of each broken rule."""

    def __init__(
        self,
        models: list[ModelEntry],
        errors: ErrorCatalog,
        messages: dict[str, dict[str, str]],
        fine_tunes: Sequence[FineTuneEntry] = (),
    ) -> None:
        self.models = {model.name: model for model in models}
        self.fine_tunes = {entry.name: entry for entry in fine_tunes}  # trained by jobs on /fine-tunes
        if len(self.models) != len(models) or len(self.fine_tunes) != len(fine_tunes) or self.models.keys() & self.fine_tunes.keys():
            raise ValueError("two catalog entries share a model name")
        self.errors = errors
        self.messages = messages
        # The synchronous variants of models that also answer on a second route (wan2.6, qwen-image).
        self.calls = {model.name: model.called() for model in models if model.call is not None}
        self._routes = {(m.route.service, m.route.group, m.route.function) for m in self.served()}
        self._on_routes: dict[tuple[str, str, str, str], ModelEntry] = {}  # (name, service, group, function)
        for entry in self.served():  # a model's own entry before its synchronous variant, as on_route looks
            self._on_routes.setdefault((entry.name, entry.route.service, entry.route.group, entry.route.function), entry)

    def model(self, name: str) -> ModelEntry | None:
        return self.models.get(name)

    def served(self) -> list[ModelEntry]:
        """Every (model, route) the emulator answers: the entries, then the synchronous variants."""
        return [*self.models.values(), *self.calls.values()]

    def on_route(self, name: str, service: str, group: str, function: str) -> ModelEntry | None:
        """The entry serving ``name`` on this route, or None when the model is not served there (one look-up: every
        submit asks)."""
        return self._on_routes.get((name, service, group, function))

    def serves_route(self, group: str, function: str, service: str = "aigc") -> bool:
        """Whether any model is submitted on ``/services/{service}/{group}/{function}``."""
        return (service, group, function) in self._routes

    @classmethod
    def load(cls, root: Path = contracts.HERE) -> "Catalog":
        entries = [_read(path) for path in sorted((root / "models").glob("*.yaml"))]
        models = [ModelEntry.model_validate(data) for data in entries if data.get("kind") != "fine-tune"]
        fine_tunes = [FineTuneEntry.model_validate(data) for data in entries if data.get("kind") == "fine-tune"]
        errors = ErrorCatalog.from_data(_read(root / "errors.yaml"))
        messages = _read(root / "validation.yaml")["rules"]
        return cls(models, errors, messages, fine_tunes)


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The bundled catalog, loaded once per process."""
    return Catalog.load()
