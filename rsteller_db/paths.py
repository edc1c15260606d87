"""Where the project's own files live (SQL stages, prompts) and where data goes by default."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = Path(os.environ.get("RSTELLER_SQL_DIR", PROJECT_ROOT / "sql"))
PROMPTS_DIR = Path(os.environ.get("RSTELLER_PROMPTS_DIR", PROJECT_ROOT / "prompts"))

DEFAULT_WAREHOUSE = Path("warehouse") / "rsteller.duckdb"
WAREHOUSE_ENV = "RSTELLER_WAREHOUSE"
CONFIG_ENV = "RSTELLER_CONFIG"
DEFAULT_CONFIG = Path("rsteller.toml")


def warehouse_path(explicit: str | os.PathLike | None = None) -> Path:
    """The warehouse file: ``--warehouse`` first, then ``$RSTELLER_WAREHOUSE``, then the default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(WAREHOUSE_ENV)
    return Path(env) if env else DEFAULT_WAREHOUSE


def data_dir(warehouse: Path) -> Path:
    """The folder that holds the warehouse file; caches and spill files go beside it."""
    return warehouse.resolve().parent
