"""Loads and indexes the catalog from the ``contracts`` package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

import contracts

from .errors import ErrorCatalog
from .schema import ModelEntry


class Catalog:
    """The models, the error catalog and the default code and message of each broken rule."""

    def __init__(self, models: list[ModelEntry], errors: ErrorCatalog, messages: dict[str, dict[str, str]]) -> None:
        self.models = {model.name: model for model in models}
        if len(self.models) != len(models):
            raise ValueError("two catalog entries share a model name")
        self.errors = errors
        self.messages = messages
        self._routes = {(m.route.service, m.route.group, m.route.function) for m in models}

    def model(self, name: str) -> ModelEntry | None:
        return self.models.get(name)

    def serves_route(self, group: str, function: str, service: str = "aigc") -> bool:
        """Whether any model is submitted on ``/services/{service}/{group}/{function}``."""
        return (service, group, function) in self._routes

    @classmethod
    def load(cls, root: Path = contracts.HERE) -> "Catalog":
        models = [
            ModelEntry.model_validate(_read(path))
            for path in sorted((root / "models").glob("*.yaml"))
        ]
        errors = ErrorCatalog.from_data(_read(root / "errors.yaml"))
        messages = _read(root / "validation.yaml")["rules"]
        return cls(models, errors, messages)


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The bundled catalog, loaded once per process."""
    return Catalog.load()
