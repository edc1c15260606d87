"""A small synthetic region across several partitions, and table-by-table comparison.

The region is the one ``bench/scale.py`` measures, small: ``bench/osm_synth.py`` (a town grid
of 100,000 nodes, 7.6 km square) under ``bench/naip_synth.py``'s sparse quarter-quad images
(six, 300 m overlap), built with ``partition_deg = 0.02`` so that every image is a partition
of its own and every partition has a halo.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rsteller_db.imagery import get_source
from rsteller_db.imagery.ingest import ingest_naip
from rsteller_db.osm import ingest_osm
from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse, spatial_connect

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import naip_synth  # noqa: E402
import osm_synth  # noqa: E402

NODES = 100_000
OVERRIDES = {"partition_deg": 0.02, "sample_interval": 1}
LIVE = {"captions", "patch_images"}


def make_region(folder: Path) -> tuple[Path, Path]:
    """(PBF, folder of images) of the small region, made once per folder."""
    pbf = folder / "region.osm.pbf"
    images = folder / "naip"
    if not pbf.exists():
        folder.mkdir(parents=True, exist_ok=True)
        osm_synth.generate(pbf, NODES)
        naip_synth.generate(images, NODES)
    return pbf, images


def settings(**more):
    return load_settings(overrides={**OVERRIDES, **more})


def open_warehouse(path: Path, **more) -> Warehouse:
    path.parent.mkdir(parents=True, exist_ok=True)
    return Warehouse(path, settings=settings(**more))


def ingest(wh: Warehouse, pbf: Path, images: Path) -> None:
    ingest_osm(wh, pbf)
    source = get_source("local").from_options(str(images), {}, wh.settings)
    result = ingest_naip(wh, source)
    assert not result.failures, result.failures


def copy_images(images: Path, to: Path, names: list[str]) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(images / name, to / name)
    return to


def table_differences(a: Path, b: Path, *, unread: dict[str, tuple[str, ...]] | None = None,
                      ) -> dict[str, tuple[int, int, int]]:
    """Per main table of ``a``: (rows, rows only in a, rows only in b), for tables that differ
    or that ``b`` lacks. An empty dict: both warehouses hold the same tables, row for row.
    ``unread`` names columns left out of the comparison, per table (an image's ``uri`` when
    the same files were ingested from another folder)."""
    con = spatial_connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    names = lambda db: {r[0] for r in con.execute(  # noqa: E731
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'",
        [db]).fetchall()} - LIVE
    out = {}
    left, right = names("a"), names("b")
    for name in sorted(left | right):
        if name not in left or name not in right:
            out[name] = (-1, -1, -1)
            continue
        n = con.execute(f"SELECT count(*) FROM a.{name}").fetchone()[0]
        left_out = (unread or {}).get(name)
        cols = f"* EXCLUDE ({', '.join(left_out)})" if left_out else "*"
        only_a = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM a.{name} "
                             f"EXCEPT ALL SELECT {cols} FROM b.{name})").fetchone()[0]
        only_b = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM b.{name} "
                             f"EXCEPT ALL SELECT {cols} FROM a.{name})").fetchone()[0]
        if only_a or only_b:
            out[name] = (n, only_a, only_b)
    con.close()
    return out
