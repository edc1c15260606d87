"""A small full-history world: a history PBF written with pyosmium and NAIP-style GeoTIFFs of
three dates over three parts of it, run through the real commands (ingest, build, caption
with the template back end, images fetch, export).

Parts A and B are 1.2 km apart (UTM 18N); each holds one 2 x 2-patch image (0.6 m pixels,
``sample_interval = 1``) and, one feature per patch:

    top-left   a warehouse building, created between the two dates (2022-01-10)
    top-right  a park, renamed on 2021-08-11 (ten days after the early flight, inside the
               30-day offset) and deleted on 2022-04-01
    bottom-left  a lake multipolygon whose outer way moves from the patch's left to its
               right on 2022-03-01: in part A a new version of the way with new nodes, in
               part B the same way whose nodes move (new node versions)
    bottom-right one road, shared by both parts (it leaves A southwards and enters B from
               the south), re-tagged highway=residential -> tertiary on 2022-02-01

Part C, further east, holds an image flown after the history ends (2022-12-01) and no
features; part D, beyond it, is spare ground for tests that add an image. ``min_elements =
1``, so every patch with a feature gets a caption request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import osmium
import rasterio
from affine import Affine
from click.testing import CliRunner
from osmium.osm.mutable import Node, Relation, Way
from pyproj import Transformer

from rsteller_db.cli import main
from rsteller_db.osm.write import write_pbf

EPSG = 26918
SIDE_M = 268.8
IMAGE_PX = 896  # 2 x 2 patches of 448 px
ORIGINS = {"A": (480000.0, 4540800.0), "B": (481200.0, 4540800.0), "C": (482400.0, 4540800.0),
           "D": (483600.0, 4540800.0)}
START = datetime(2021, 6, 1, tzinfo=UTC)
RENAMED = datetime(2021, 8, 11, tzinfo=UTC)
BUILT = datetime(2022, 1, 10, tzinfo=UTC)
RETAGGED = datetime(2022, 2, 1, tzinfo=UTC)
MOVED = datetime(2022, 3, 1, tzinfo=UTC)
DELETED = datetime(2022, 4, 1, tzinfo=UTC)
ENDS = datetime(2022, 12, 1, tzinfo=UTC)  # the history file's replication timestamp
EARLY, LATE, AFTER = "2021-08-01", "2022-08-01", "2022-11-20"  # acquisition dates
SETTINGS = {"min_elements": 1, "sample_interval": 1}
_TO_LONLAT = Transformer.from_crs(EPSG, 4326, always_xy=True)
_GREY = np.full((3, IMAGE_PX, IMAGE_PX), 128, dtype=np.uint8)


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LONLAT.transform(x, y)
    return round(lon, 7), round(lat, 7)


@dataclass
class History:
    """Every version of every object: kind -> id -> [(version, timestamp, visible, data)]."""

    objects: dict[str, dict[int, list]] = field(
        default_factory=lambda: {"n": {}, "w": {}, "r": {}})

    def add(self, kind: str, oid: int, when: datetime, data=None, visible: bool = True):
        versions = self.objects[kind].setdefault(oid, [])
        versions.append((len(versions) + 1, when, visible, data))

    def node(self, nid: int, x: float, y: float, when: datetime = START) -> int:
        self.add("n", nid, when, lonlat(x, y))
        return nid

    def ring(self, first: int, x0: float, y0: float, w: float, h: float,
             when: datetime = START) -> list[int]:
        corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
        ids = [self.node(first + i, x, y, when) for i, (x, y) in enumerate(corners)]
        return ids + ids[:1]

    def delete(self, kind: str, oid: int, when: datetime) -> None:
        self.add(kind, oid, when, None, visible=False)

    def write(self, path: Path) -> Path:
        header = osmium.io.Header()
        header.has_multiple_object_versions = True
        header.set("generator", "rsteller-db tests/history_world.py")
        header.set("osmosis_replication_timestamp", ENDS.strftime("%Y-%m-%dT%H:%M:%SZ"))
        with osmium.SimpleWriter(str(path), header=header, overwrite=True) as w:
            for nid, versions in sorted(self.objects["n"].items()):
                for version, when, visible, loc in versions:
                    w.add_node(Node(id=nid, version=version, visible=visible, timestamp=when,
                                    location=loc if visible else None))
            for wid, versions in sorted(self.objects["w"].items()):
                for version, when, visible, data in versions:
                    refs, tags = data if visible else ([], {})
                    w.add_way(Way(id=wid, version=version, visible=visible, timestamp=when,
                                  nodes=refs, tags=tags))
            for rid, versions in sorted(self.objects["r"].items()):
                for version, when, visible, data in versions:
                    members, tags = data if visible else ([], {})
                    w.add_relation(Relation(id=rid, version=version, visible=visible,
                                            timestamp=when, members=members, tags=tags))
        return path

    def at(self, when: datetime) -> History:
        """The map at ``when`` as a history of one version per object (all from START)."""
        out = History()
        for kind, objects in self.objects.items():
            for oid, versions in objects.items():
                current = [v for v in versions if v[1] <= when]
                if current and current[-1][2]:
                    out.add(kind, oid, START, current[-1][3])
        return out

    def write_plain(self, path: Path) -> Path:
        """The last version of each object as a plain extract (call it on ``at(...)``)."""
        last = {k: {i: v[-1][3] for i, v in objs.items()} for k, objs in self.objects.items()}
        return write_pbf(
            path,
            nodes=[(i, lon, lat, {}) for i, (lon, lat) in sorted(last["n"].items())],
            ways=[(i, refs, tags) for i, (refs, tags) in sorted(last["w"].items())],
            relations=[(i, m, tags) for i, (m, tags) in sorted(last["r"].items())],
            replication_timestamp=ENDS)


def make_history() -> History:
    h = History()
    for part, base in (("A", 0), ("B", 100)):
        first = 10_000 if part == "A" else 30_000  # node ids; the road's are 50_001..
        x0, y0 = ORIGINS[part]
        left, bottom, top = x0, y0, y0 + SIDE_M  # top row of patches starts at y0 + SIDE_M
        h.add("w", 101 + base, BUILT, (h.ring(first, left + 90, top + 90, 80, 80,
                                              BUILT), {"building": "warehouse"}))
        park = h.ring(first + 100, left + SIDE_M + 60, top + 60, 150, 150)
        h.add("w", 102 + base, START, (park, {"leisure": "park", "name": "Old Park"}))
        h.add("w", 102 + base, RENAMED, (park, {"leisure": "park", "name": "Mill Park"}))
        h.delete("w", 102 + base, DELETED)
        for nid in sorted(set(park)):
            h.delete("n", nid, DELETED)
        lake = h.ring(first + 200, left + 20, bottom + 80, 100, 110)
        if part == "A":  # a new version of the outer way, on new nodes
            moved = h.ring(first + 250, left + 150, bottom + 80, 100, 110, MOVED)
            h.add("w", 103 + base, START, (lake, {}))
            h.add("w", 103 + base, MOVED, (moved, {}))
            for nid in sorted(set(lake)):
                h.delete("n", nid, MOVED)
        else:  # the same way, its nodes moved
            h.add("w", 103 + base, START, (lake, {}))
            for i, (x, y) in enumerate([(150, 80), (250, 80), (250, 190), (150, 190)]):
                h.add("n", lake[i], MOVED, lonlat(left + x, bottom + y))
        h.add("r", 1 + base, START, ([("w", 103 + base, "outer")],
                                     {"type": "multipolygon", "natural": "water",
                                      "name": f"Long Pond {part}"}))
    ax, ay = ORIGINS["A"]
    bx, _ = ORIGINS["B"]
    road = [h.node(50_001, ax + 1.5 * SIDE_M, ay + 230), h.node(50_002, ax + 1.5 * SIDE_M, ay - 60),
            h.node(50_003, bx + 1.5 * SIDE_M, ay - 60), h.node(50_004, bx + 1.5 * SIDE_M, ay + 230)]
    h.add("w", 200, START, (road, {"highway": "residential", "name": "Mill Road"}))
    h.add("w", 200, RETAGGED, (road, {"highway": "tertiary", "name": "Mill Road"}))
    return h


def image_name(part: str, acquired_on: str) -> str:
    quad = {"A": 1, "B": 2, "C": 3, "D": 4}[part]
    return f"m_41075{quad:02d}_ne_18_060_{acquired_on.replace('-', '')}"


def write_meadow(path: Path, part: str = "C") -> Path:
    """A plain extract beside the history: a meadow over ``part``'s top-left patch, and the
    shared road (way 200) as highway=primary, which the history holds too."""
    x0, y0 = ORIGINS[part]
    corners = [(x0 + 40, y0 + SIDE_M + 40), (x0 + 230, y0 + SIDE_M + 40),
               (x0 + 230, y0 + SIDE_M + 230), (x0 + 40, y0 + SIDE_M + 230)]
    nodes = [(90_001 + i, *lonlat(x, y), {}) for i, (x, y) in enumerate(corners)]
    road = make_history().objects["w"][200][-1][3][0]
    return write_pbf(path, nodes=nodes,
                     ways=[(200, road, {"highway": "primary", "name": "Mill Road"}),
                           (900, [n[0] for n in nodes] + [90_001], {"landuse": "meadow"})])


def write_images(folder: Path, dates: dict[str, str]) -> dict[str, str]:
    """One flat grey GeoTIFF per part, named with its acquisition date; part -> image name."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for part, acquired_on in dates.items():
        x0, y0 = ORIGINS[part]
        names[part] = image_name(part, acquired_on)
        with rasterio.open(folder / f"{names[part]}.tif", "w", driver="GTiff", width=IMAGE_PX,
                           height=IMAGE_PX, count=3, dtype="uint8", crs=f"EPSG:{EPSG}",
                           compress="deflate",
                           transform=Affine(0.6, 0, x0, 0, -0.6, y0 + 2 * SIDE_M)) as ds:
            ds.write(_GREY)
    return names


def cli(warehouse: Path, *args: str, exit_code: int = 0) -> str:
    config = warehouse.parent / "rsteller.toml"
    result = CliRunner().invoke(main, ["-q", "-w", str(warehouse), "-c", str(config), *args],
                                catch_exceptions=False)
    assert result.exit_code == exit_code, f"rsteller-db {' '.join(args)}: {result.output}"
    return result.output


def make_warehouse(folder: Path, pbf: Path, images: Path, *, export: bool = True,
                   **settings) -> Path:
    """init, ingest osm + naip, build, template captions, images fetch, export (to
    ``folder/export``): the warehouse path."""
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / "rsteller.duckdb"
    values = {**SETTINGS, **settings}
    (folder / "rsteller.toml").write_text(
        "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items()))
    cli(warehouse, "init")
    cli(warehouse, "ingest", "osm", str(pbf))
    cli(warehouse, "ingest", "naip", "--source", "local", str(images))
    cli(warehouse, "build")
    if export:
        cli(warehouse, "caption", "--backend", "template")
        cli(warehouse, "images", "fetch")
        cli(warehouse, "export", "--format", "wds", "--out", str(folder / "export"))
    return warehouse
