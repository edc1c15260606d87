"""Helpers of the OSM tests: hand-made PBFs in local metres, and a warehouse that builds
only the OSM stages (a private copy of sql/, so other areas' stages do not interfere)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from rsteller_db import stages
from rsteller_db.osm.write import write_pbf
from rsteller_db.paths import sql_folder
from rsteller_db.warehouse import Warehouse

LAT0, LON0 = 41.0, -75.0
_PHI = math.radians(LAT0)  # metres per degree on the WGS84 ellipsoid at LAT0
M_PER_DEG_LAT = 111_132.954 - 559.822 * math.cos(2 * _PHI) + 1.175 * math.cos(4 * _PHI)
M_PER_DEG_LON = 111_412.84 * math.cos(_PHI) - 93.5 * math.cos(3 * _PHI) + 0.118 * math.cos(5 * _PHI)


def lonlat(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def square(x0: float, y0: float, side: float) -> list[tuple[float, float]]:
    """Corners counter-clockwise, not repeated."""
    return [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)]


class PbfBuilder:
    """Collects nodes, ways and relations; node ids are handed out from 1."""

    def __init__(self, first_node: int = 1):
        self.nodes: dict[int, tuple[float, float, dict]] = {}
        self.ways: dict[int, tuple[list[int], dict]] = {}
        self.relations: dict[int, tuple[list, dict]] = {}
        self._next = first_node

    def node(self, x: float, y: float, tags: dict | None = None, node_id: int | None = None) -> int:
        nid = node_id if node_id is not None else self._next
        self._next = max(self._next, nid + 1)
        self.nodes[nid] = (*lonlat(x, y), tags or {})
        return nid

    def way(self, way_id: int, refs: list[int], tags: dict | None = None) -> int:
        self.ways[way_id] = (refs, tags or {})
        return way_id

    def line(self, way_id: int, points, tags: dict | None = None) -> int:
        return self.way(way_id, [self.node(x, y) for x, y in points], tags)

    def ring(self, way_id: int, points, tags: dict | None = None) -> int:
        refs = [self.node(x, y) for x, y in points]
        return self.way(way_id, refs + refs[:1], tags)

    def relation(self, rel_id: int, members: list[tuple[str, int, str]], tags: dict) -> int:
        self.relations[rel_id] = (members, tags)
        return rel_id

    def write(self, path: Path, **header) -> Path:
        return write_pbf(
            path,
            nodes=[(i, lon, lat, tags) for i, (lon, lat, tags) in sorted(self.nodes.items())],
            ways=[(i, refs, tags) for i, (refs, tags) in sorted(self.ways.items())],
            relations=[(i, m, tags) for i, (m, tags) in sorted(self.relations.items())],
            **header,
        )


def osm_sql_dir(root: Path) -> Path:
    """A copy of the DDL and of the OSM seeds, staging stages and audits under ``root``: pass
    it as ``sql_dir`` or, to a ``rsteller-db`` process, as ``$RSTELLER_SQL_DIR``."""
    out = root / "sql"
    for sub in ("ddl", "seeds", "staging", "intermediate", "marts", "audits"):
        sql_folder(sub, out).mkdir(parents=True, exist_ok=True)
    for sub, pattern in (("ddl", "*.sql"), ("seeds", "osm_*.csv"), ("staging", "*_stg_osm__*.sql"),
                         ("staging", "*_stg_naip__images.sql"), ("audits", "stg_osm__*.sql")):
        for path in sql_folder(sub).glob(pattern):
            shutil.copy(path, sql_folder(sub, out) / path.name)
    return out


class OsmWarehouse:
    """A warehouse in ``tmp_path`` with ``build()`` limited to the OSM stages."""

    def __init__(self, tmp_path: Path):
        self.sql_dir = osm_sql_dir(tmp_path)
        self.path = tmp_path / "w.duckdb"
        self.wh = Warehouse(self.path)

    def build(self) -> stages.BuildResult:
        return stages.build(self.wh, sql_dir=self.sql_dir)

    def rows(self, sql: str, params=None) -> list[tuple]:
        return self.wh.con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params=None):
        return self.wh.con.execute(sql, params or []).fetchone()

    def close(self) -> None:
        self.wh.close()
