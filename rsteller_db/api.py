"""The Python API: the warehouse as an ibis connection, plus the inspection functions.

>>> import rsteller_db
>>> con = rsteller_db.connect("warehouse/rsteller.duckdb")          # doctest: +SKIP
>>> captions = con.table("captions")                                 # doctest: +SKIP
>>> captions.group_by("task", "annotator").agg(n=captions.count())   # doctest: +SKIP

The connection is read-only by default and has DuckDB's spatial extension loaded from the
``duckdb-extension-spatial`` wheel (never downloaded), so geometry columns (``geom``,
``geom_native``) work as ibis geospatial columns. ``con.raw_sql(...)`` and
``con.sql(...)`` run SQL on the same connection; the ``_meta`` tables are reached with
``con.table("sources", database="_meta")``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from . import defaults
from .errors import RstellerError
from .paths import warehouse_path
from .settings import Settings
from .warehouse import Warehouse

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend

__all__ = ["connect", "stats", "preview"]


def connect(path: str | os.PathLike | None = None, *, read_only: bool = True,
            settings: Settings | None = None) -> Backend:
    """An ibis DuckDB connection to the warehouse (``--warehouse`` rules find the file)."""
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RstellerError(
            "the Python API needs ibis: pip install 'rsteller-db[ibis]' "
            "(or pip install 'ibis-framework[duckdb]')"
        ) from exc
    wh = Warehouse(warehouse_path(path), read_only=read_only, settings=settings, create=False)
    backend = ibis.duckdb.from_connection(wh.con)
    backend.warehouse = wh  # keeps the path (and data folder) at hand: con.warehouse.data_dir
    return backend


def stats(path: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
          **kwargs):
    """The dataset card's statistics; with ``out_dir``, also write README.md and the plots."""
    from .inspect import collect_stats, write_card

    with Warehouse(warehouse_path(path), read_only=True, create=False) as wh:
        if out_dir is None:
            return collect_stats(wh, **kwargs)
        return write_card(wh, out_dir, **kwargs).stats


def preview(path: str | os.PathLike | None = None, out: str | os.PathLike = defaults.PREVIEW_FILE,
            **kwargs):
    """Write the HTML preview of the samples (see ``rsteller_db.inspect.write_preview``)."""
    from .inspect import write_preview

    with Warehouse(warehouse_path(path), read_only=True, create=False) as wh:
        return write_preview(wh, out, **kwargs)
