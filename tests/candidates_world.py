"""A small world for the candidate/descriptor/selection tests, built by the real stages.

Tests place patches (their UTM squares) and OSM elements (in a patch's unit square, origin
bottom-left, or in UTM metres, or in lon/lat); ``build()`` writes what they describe as real
input files, one 448 x 448 px GeoTIFF per patch (0.6 m pixels, flat grey) and one OSM PBF
(osm.write.write_pbf: closed ways for polygons, relations for multipolygons and boundaries,
nodes for points), ingests both and runs every stage up to ``caption_requests``. So the
descriptors are measured on geometry that went through the OSM staging and the patch grid,
at OSM's own precision (1e-7 degrees, about 1 cm).

A test names a patch by its own label (1, 2, ...): ``pid(label)`` is the ``patch_id`` the grid
gave it. Element ids are OSM's (``osm_id * 10 + 1/2/3`` for node/way/relation).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import rasterio
import shapely
import shapely.affinity
from affine import Affine
from pyproj import Transformer

from rsteller_db import stages
from rsteller_db.imagery import get_source
from rsteller_db.imagery.ingest import ingest_naip
from rsteller_db.osm import ingest_osm
from rsteller_db.osm.write import write_pbf
from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse

SIDE_M = 268.8
PATCH_PX = 448
EPSG = 26918
ORIGIN = (480000.0, 4540800.0)
IMAGE = "m_4107501_ne_18_060_20220815"
STOP = "caption_requests"  # the last stage these tests read
_QUARTERS = ("ne", "nw", "se", "sw")
_TYPE_DIGIT = {"node": 1, "way": 2, "relation": 3}
UNTAGGED_NODES = 10**8
_GREY = np.full((3, PATCH_PX, PATCH_PX), 128, dtype=np.uint8)


def image_name(index: int, date: str = "20220815") -> str:
    """A distinct NAIP-style name for the image of the index-th patch (0-based)."""
    quad, quarter = index % 64 + 1, _QUARTERS[index // 64 % 4]
    return f"m_41075{quad:02d}_{quarter}_18_060_{date}"


@cache
def _to_lonlat(epsg: int) -> Transformer:
    """One transformer per zone: making one costs about 1.5 ms, a world adds ~1,000 elements."""
    return Transformer.from_crs(epsg, 4326, always_xy=True)


class World:
    """A warehouse in ``folder`` fed with generated files; settings overrides as keywords."""

    def __init__(self, folder: Path, **settings):
        self.folder = Path(folder)
        self.wh = Warehouse(self.folder / "w.duckdb", settings=load_settings(overrides=settings))
        self.con = self.wh.con
        self.patches: dict[int, tuple[float, float, int]] = {}  # label -> x0, y0, epsg
        self._images: dict[int, str] = {}  # label -> image name
        self._date = "20220815"
        self._next_osm_id = 1000
        self._elements: list[tuple[str, int, dict, object]] = []  # type, id, tags, lon/lat geom
        self._builds = 0

    def add_image(self, name: str = IMAGE, epsg: int = EPSG, acquired_on: str = "2022-08-15"):
        """The acquisition date of the patches' images (one GeoTIFF per patch)."""
        self._date = acquired_on.replace("-", "")

    def add_patch(self, patch_id: int, x0: float = ORIGIN[0], y0: float = ORIGIN[1],
                  image_name: str = IMAGE, epsg: int = EPSG, side: float = SIDE_M) -> None:
        """A patch whose UTM square has its bottom-left corner at (x0, y0)."""
        self.patches[patch_id] = (x0, y0, epsg)

    def pid(self, label: int) -> int:
        """The grid's patch_id of the patch the test calls ``label``."""
        return self.con.execute("select patch_id from int_patches_gridded where image_name = ?",
                                [self._images[label]]).fetchone()[0]

    # -- elements ------------------------------------------------------------------------
    def _lonlat(self, geom, epsg: int):
        to_lonlat = _to_lonlat(epsg)
        return shapely.transform(
            geom, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))

    def add_element(self, kind: str, tags: dict[str, str], wkt: str, *,
                    patch_id: int | None = None, epsg: int = EPSG, osm_type: str = "way",
                    osm_id: int | None = None) -> int:
        """An element from WKT in ``patch_id``'s unit square, or in UTM metres without one.
        Its kind comes from its tags and shape, as staging decides (``kind`` documents it)."""
        geom = shapely.from_wkt(wkt)
        if patch_id is not None:
            x0, y0, epsg = self.patches[patch_id]
            geom = shapely.affinity.affine_transform(geom, [SIDE_M, 0, 0, SIDE_M, x0, y0])
        return self._add(osm_type, osm_id, tags, self._lonlat(geom, epsg))

    def add_element_lonlat(self, kind: str, tags: dict[str, str], wkt: str) -> int:
        return self._add("way", None, tags, shapely.from_wkt(wkt))

    def add_boundary(self, name: str, admin_level: str, wkt: str, epsg: int = EPSG) -> None:
        tags = {"type": "boundary", "boundary": "administrative", "admin_level": admin_level,
                "name": name}
        self._add("relation", None, tags, self._lonlat(shapely.from_wkt(wkt), epsg))

    def _add(self, osm_type: str, osm_id: int | None, tags: dict, geom) -> int:
        if osm_id is None:
            self._next_osm_id += 1
            osm_id = self._next_osm_id
        if osm_type == "relation" and "type" not in tags:
            tags = {"type": "multipolygon", **tags}
        self._elements.append((osm_type, osm_id, dict(tags), geom))
        return osm_id * 10 + _TYPE_DIGIT[osm_type]

    # -- files and build -----------------------------------------------------------------
    def _write_images(self, folder: Path) -> None:
        for index, (label, (x0, y0, epsg)) in enumerate(sorted(self.patches.items())):
            name = self._images.setdefault(label, image_name(index, self._date))
            path = folder / f"{name}.tif"
            if not path.exists():  # the pixels do not matter here: one flat grey, compressed
                with rasterio.open(path, "w", driver="GTiff", width=PATCH_PX, height=PATCH_PX,
                                   count=3, dtype="uint8", crs=f"EPSG:{epsg}", compress="deflate",
                                   transform=Affine(0.6, 0, x0, 0, -0.6, y0 + SIDE_M)) as ds:
                    ds.write(_GREY)

    def _write_pbf(self, path: Path) -> Path:
        nodes: list[tuple] = []
        ways: list[tuple] = []
        relations: list[tuple] = []
        member_way = [10**9]  # member ways of relations get ids of their own

        def node(lon: float, lat: float) -> int:
            nodes.append((UNTAGGED_NODES + len(nodes), lon, lat, {}))
            return nodes[-1][0]

        def ring(coords) -> list[int]:
            refs = [node(x, y) for x, y in list(coords)[:-1]]
            return refs + refs[:1]

        def member(coords) -> int:
            member_way[0] += 1
            ways.append((member_way[0], ring(coords), {}))
            return member_way[0]

        for osm_type, osm_id, tags, geom in self._elements:
            if osm_type == "node":
                nodes.append((osm_id, geom.x, geom.y, tags))
            elif osm_type == "relation":
                parts = getattr(geom, "geoms", [geom])
                members = []
                for part in parts:
                    members.append(("w", member(part.exterior.coords), "outer"))
                    members += [("w", member(r.coords), "inner") for r in part.interiors]
                relations.append((osm_id, members, tags))
            elif geom.geom_type == "Polygon":
                ways.append((osm_id, ring(geom.exterior.coords), tags))
            else:
                ways.append((osm_id, [node(x, y) for x, y in geom.coords], tags))
        # PBF order: each kind by ascending id (elements keep the tests' OSM ids; the nodes of
        # ways and the member ways of relations are numbered apart, from 10**8 and 10**9)
        return write_pbf(path, nodes=sorted(nodes), ways=sorted(ways, key=lambda w: w[0]),
                         relations=sorted(relations, key=lambda r: r[0]))

    def build(self) -> stages.BuildResult:
        """Write the inputs, ingest them, and build every stage up to caption_requests."""
        self._builds += 1
        images = self.folder / "naip"
        images.mkdir(parents=True, exist_ok=True)
        self._write_images(images)
        if self.patches:
            source = get_source("local").from_options(str(images), {}, self.wh.settings)
            result = ingest_naip(self.wh, source)
            assert not result.failures, result.failures
        if self._elements:
            ingest_osm(self.wh, self._write_pbf(self.folder / f"world-{self._builds}.osm.pbf"))
        # whole, not partition by partition: the same tables (tests/test_scale_partitions.py),
        # a third faster for these small worlds
        return stages.build(self.wh, stop=STOP, single=True)

    def rows(self, sql: str, params=None) -> list[dict]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.wh.close()
