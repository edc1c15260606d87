"""rsteller-db: RSTeller-style remote-sensing image-caption datasets as a DuckDB warehouse."""

from __future__ import annotations

from .api import connect
from .errors import RstellerError
from .settings import Settings, load_settings
from .stages import build, discover
from .warehouse import Warehouse, load_spatial, open_warehouse

__all__ = [
    "RstellerError",
    "Settings",
    "Warehouse",
    "build",
    "connect",
    "discover",
    "load_settings",
    "load_spatial",
    "open_warehouse",
]
__version__ = "0.1.0"
