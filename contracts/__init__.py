"""DashScope API contracts: the model catalog, the error catalog and generated documents.

This package is data. The emulator, the validators, the OpenAPI document and the
conformance harness all read it; see ``mockserver.catalog`` for the loader.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
