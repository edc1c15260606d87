"""A hand-built warehouse for the candidate/descriptor/selection tests and the benchmark.

The upstream relations (stg_naip__images, int_patches_gridded, stg_osm__elements,
stg_osm__boundaries) are created here as plain tables with the contract's columns, and
elements are given in a patch's unit square (origin bottom-left) or in UTM metres, then
stored in EPSG:4326 as staging would store them. ``build()`` runs the seeds and this area's
stages only, so the other engineers' stages are never rebuilt.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from rsteller_db import stages
from rsteller_db.paths import sql_folder
from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse

SIDE_M = 268.8
EPSG = 26918
ORIGIN = (480000.0, 4540800.0)
IMAGE = "m_4107501_ne_18_060_20220815"

SEEDS = ["descriptor_words", "grid_cells", "tag_glossary", "visibility_rules"]
STAGES = [
    "int_elements_validated", "int_elements_hidden", "int_patch_elements_joined",
    "int_tag_meanings_resolved",
    "int_patch_areas_described", "int_patch_lines_described", "int_patch_points_described",
    "int_patch_contexts_gathered", "int_patch_options_ranked", "int_patches_selected",
    "caption_requests",
]

_UPSTREAM = """
CREATE OR REPLACE TABLE stg_naip__images (
    image_name VARCHAR, acquired_on DATE, epsg INTEGER, gsd_m DOUBLE, width_px INTEGER,
    height_px INTEGER, geom GEOMETRY, native_bounds DOUBLE[], source VARCHAR, uri VARCHAR);
CREATE OR REPLACE TABLE int_patches_gridded (
    patch_id BIGINT, image_name VARCHAR, col INTEGER, "row" INTEGER, px_x INTEGER,
    px_y INTEGER, px_size INTEGER, epsg INTEGER, geom_native GEOMETRY, geom GEOMETRY);
CREATE OR REPLACE TABLE stg_osm__elements (
    element_id BIGINT, osm_type VARCHAR, osm_id BIGINT, kind VARCHAR,
    tags MAP(VARCHAR, VARCHAR), geom GEOMETRY);
CREATE OR REPLACE TABLE stg_osm__boundaries (
    element_id BIGINT, osm_type VARCHAR, osm_id BIGINT, name VARCHAR, admin_level VARCHAR,
    tags MAP(VARCHAR, VARCHAR), geom GEOMETRY);
"""



def own_sql_dir(target: Path) -> Path:
    """A copy of sql/ holding the seeds, this area's stages and their audits only, so work in
    progress on other stages cannot break these tests."""
    wanted = set(SEEDS + STAGES)
    for sub in ("seeds", "staging", "intermediate", "marts", "audits"):
        sql_folder(sub, target).mkdir(parents=True, exist_ok=True)
    for path in sql_folder("seeds").glob("*.csv"):
        shutil.copy(path, sql_folder("seeds", target) / path.name)
    for layer in ("intermediate", "marts"):
        for path in sql_folder(layer).glob("*.sql"):
            if path.stem.split("_", 1)[1] in wanted:
                shutil.copy(path, sql_folder(layer, target) / path.name)
    for path in sql_folder("audits").glob("*.sql"):
        if path.stem.split("__", 1)[0] in wanted:
            shutil.copy(path, sql_folder("audits", target) / path.name)
    return target


_TO_4326 = "ST_Transform(ST_GeomFromText(?), 'EPSG:' || ?, 'EPSG:4326', always_xy := true)"


class World:
    """A warehouse in ``folder`` with hand-made upstream tables."""

    def __init__(self, folder: Path, **settings):
        self.wh = Warehouse(Path(folder) / "w.duckdb", settings=load_settings(overrides=settings))
        self.sql_dir = own_sql_dir(Path(folder) / "sql")
        self.con = self.wh.con
        self.con.execute(_UPSTREAM)
        self.patches: dict[int, tuple[float, float, int]] = {}
        self._next_osm_id = 1000
        self._queue: list[tuple] = []
        self._patch_queue: list[tuple] = []

    def add_image(self, name: str = IMAGE, epsg: int = EPSG, acquired_on: str = "2022-08-15"):
        self.con.execute(
            "INSERT INTO stg_naip__images VALUES (?, ?, ?, 0.6, 10000, 10000, NULL, NULL, "
            "'test', 'test://')", [name, acquired_on, epsg])

    def add_patch(self, patch_id: int, x0: float = ORIGIN[0], y0: float = ORIGIN[1],
                  image_name: str = IMAGE, epsg: int = EPSG, side: float = SIDE_M) -> None:
        """A patch whose UTM square has its bottom-left corner at (x0, y0) (queued)."""
        wkt = f"POLYGON(({x0} {y0}, {x0 + side} {y0}, {x0 + side} {y0 + side}, " \
              f"{x0} {y0 + side}, {x0} {y0}))"
        self._patch_queue.append((patch_id, image_name, epsg, wkt))
        self.patches[patch_id] = (x0, y0, epsg)

    def add_element(self, kind: str, tags: dict[str, str], wkt: str, *, patch_id: int | None = None,
                    epsg: int = EPSG, osm_type: str = "way", osm_id: int | None = None) -> int:
        """An element from WKT in ``patch_id``'s unit square, or in UTM metres without one.
        Elements are queued and written in one statement by ``flush()`` (``build`` calls it)."""
        x0, y0, scale = 0.0, 0.0, 1.0
        if patch_id is not None:
            x0, y0, epsg = self.patches[patch_id]
            x0, y0, scale = x0 / SIDE_M, y0 / SIDE_M, SIDE_M
        if osm_id is None:
            self._next_osm_id += 1
            osm_id = self._next_osm_id
        element_id = osm_id * 10 + {"node": 1, "way": 2, "relation": 3}[osm_type]
        self._queue.append((element_id, osm_type, osm_id, kind, tags, wkt, epsg, x0, y0, scale))
        return element_id

    def flush(self) -> None:
        """Write the queued patches and elements, each kind in one statement."""
        if self._patch_queue:
            names = ["patch_id", "image_name", "epsg", "wkt"]
            _patches = pa.table(dict(zip(names, map(list, zip(*self._patch_queue, strict=True)),
                                         strict=True)))
            self.con.execute(
                "INSERT INTO int_patches_gridded SELECT patch_id, image_name, 0, 0, 0, 0, 448, "
                "epsg, ST_GeomFromText(wkt), ST_Transform(ST_GeomFromText(wkt), 'EPSG:' || epsg, "
                "'EPSG:4326', always_xy := true) FROM _patches")
            self._patch_queue.clear()
        if self._queue:
            cols = list(map(list, zip(*self._queue, strict=True)))
            names = ["element_id", "osm_type", "osm_id", "kind", "tags", "wkt", "epsg", "x0",
                     "y0", "scale"]
            arrays = {n: c for n, c in zip(names, cols, strict=True)}
            arrays["tags"] = pa.array([list(t.items()) for t in cols[4]],
                                      type=pa.map_(pa.string(), pa.string()))
            _queued = pa.table(arrays)
            self.con.execute(
                "INSERT INTO stg_osm__elements SELECT element_id, osm_type, osm_id, kind, tags, "
                "ST_Transform(ST_TransScale(ST_GeomFromText(wkt), x0, y0, scale, scale), "
                "'EPSG:' || epsg, 'EPSG:4326', always_xy := true) FROM _queued")
            self._queue.clear()

    def add_element_lonlat(self, kind: str, tags: dict[str, str], wkt: str) -> int:
        self._next_osm_id += 1
        element_id = self._next_osm_id * 10 + 2
        self.con.execute(
            "INSERT INTO stg_osm__elements VALUES (?, 'way', ?, ?, ?, ST_GeomFromText(?))",
            [element_id, self._next_osm_id, kind, tags, wkt])
        return element_id

    def add_boundary(self, name: str, admin_level: str, wkt: str, epsg: int = EPSG) -> None:
        self._next_osm_id += 1
        self.con.execute(
            f"INSERT INTO stg_osm__boundaries VALUES (?, 'relation', ?, ?, ?, ?, {_TO_4326})",
            [self._next_osm_id * 10 + 3, self._next_osm_id, name, admin_level,
             {"boundary": "administrative", "admin_level": admin_level, "name": name}, wkt, epsg])

    def build(self) -> stages.BuildResult:
        """Seeds and this area's stages, forced: the upstream tables change behind the runner."""
        self.flush()
        return stages.build(self.wh, only=SEEDS + STAGES, force=True, sql_dir=self.sql_dir)

    def rows(self, sql: str, params=None) -> list[dict]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.wh.close()
