"""rsteller-db: RSTeller-style remote-sensing image-caption datasets as a DuckDB warehouse.

The names below are imported on first use, not with the package: every ``rsteller_db.*``
module imports this file first, and the export's helper processes, which need neither DuckDB
nor the stage runner, would otherwise spend a third of their start-up importing them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import connect
    from .errors import RstellerError
    from .settings import Settings, load_settings
    from .stages import build, discover
    from .warehouse import Warehouse, load_spatial, open_warehouse

_HOMES = {
    "connect": ".api",
    "RstellerError": ".errors",
    "Settings": ".settings",
    "load_settings": ".settings",
    "build": ".stages",
    "discover": ".stages",
    "Warehouse": ".warehouse",
    "load_spatial": ".warehouse",
    "open_warehouse": ".warehouse",
}

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


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
