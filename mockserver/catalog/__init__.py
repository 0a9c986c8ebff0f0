"""The model catalog: loaded from ``contracts/``, the single source of truth."""

from .errors import ErrorCatalog, ErrorSpec
from .loader import Catalog, default_catalog
from .schema import FieldRule, ModelEntry

__all__ = ["Catalog", "ErrorCatalog", "ErrorSpec", "FieldRule", "ModelEntry", "default_catalog"]
