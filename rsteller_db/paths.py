"""Where the project's own files live (SQL stages, prompts) and where data goes by default.

``sql/`` and ``prompts/`` sit at the root of a clone. A wheel carries them inside the package,
as ``rsteller_db/_data/sql`` and ``rsteller_db/_data/prompts`` (see ``pyproject.toml``), so an
installed ``rsteller-db`` finds them without a clone; an editable install reads the clone's.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UnsafePathError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
PACKAGED_DATA = PACKAGE_DIR / "_data"


def _project_dir(name: str, env: str) -> Path:
    """``$env`` when set; else the copy inside the installed wheel; else the clone's folder."""
    if os.environ.get(env):
        return Path(os.environ[env])
    packaged = PACKAGED_DATA / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


SQL_DIR = _project_dir("sql", "RSTELLER_SQL_DIR")
PROMPTS_DIR = _project_dir("prompts", "RSTELLER_PROMPTS_DIR")

# The folders of sql/, named so that a listing shows the order they run in: DDL on every
# writable open, then seeds, staging, intermediate and marts by `build`, then the caption
# rules by `caption`; the audits guard the stages (each runs right after the relation it names).
SQL_FOLDERS = {
    "ddl": "00_ddl",
    "seeds": "10_seeds",
    "staging": "20_staging",
    "intermediate": "30_intermediate",
    "marts": "40_marts",
    "caption_rules": "50_caption_rules",
    "audits": "stage_audits",
}


def sql_folder(part: str, sql_dir: Path | None = None) -> Path:
    """The folder of one part of ``sql/`` (``'ddl'``, ``'seeds'``, ``'staging'``, ...)."""
    return (sql_dir or SQL_DIR) / SQL_FOLDERS[part]


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


def inside(folder: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``folder / relative``, refusing anything that lands outside ``folder``.

    Every file the tool writes or reads under a folder of its own goes through here, so a name
    taken from input (an image name, a path stored in the warehouse) cannot reach elsewhere:
    absolute paths, NUL bytes and ``..`` segments that climb out raise ``UnsafePathError``.
    The check is on the names, not on links: a user may make ``images/`` a link to a larger
    disk, and input names cannot create links.
    """
    text = os.fspath(relative)
    if not text or "\0" in text or os.path.isabs(text):
        raise UnsafePathError(f"unsafe file name {text!r}: not a relative path inside {folder}")
    base = Path(os.path.abspath(folder))
    target = Path(os.path.normpath(base / text))
    if target == base or not target.is_relative_to(base):
        raise UnsafePathError(f"unsafe file name {text!r}: it leads outside {base}")
    return target


def data_dir(warehouse: Path) -> Path:
    """The folder that holds the warehouse file; caches and spill files go beside it."""
    return warehouse.resolve().parent
