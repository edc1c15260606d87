"""A deterministic synthetic OSM extract of any size, for ``bench/osm_ingest.py``.

The region is a square grid of 200 m cells near 41 N, 75 W. Each cell holds a street
(TIGER-style tags), six buildings, a landuse blob, points of interest and, now and then, a
tree row, hedges and fences, a lake multipolygon with an island and an outer ring split over
two ways, a forest with two outers, a relation with an unclosable ring, a way with a missing
node, and something a photograph cannot show (a culvert, a buried pipeline or cable, a proposed
street, an underground car park) or its near miss (a pipeline marked overground). Every tenth
row of cells has a primary road across the whole grid (long lines cross partition edges). A
county boundary relation surrounds the grid. About 70 nodes per cell.

Cells are drawn from ``random.Random(seed, cell)`` and written as they are made: nodes to the
output, ways and relations to two side files copied in after the nodes (PBF order), so memory
stays flat whatever the size.

``--history`` writes a full-history file of the same map instead (``.osh.pbf``, the
``HistoricalInformation`` header), for ``bench/osm_history.py``: every object has about three
versions (1 + Binomial(4, 1/2)). Most cells are mapped between 2010 and 2020; one in twenty is
new development, mapped within the NAIP images' span (2021-08-01 .. 2022-11-26, so older
images must not see it). Later versions, at random times until the history ends
(2024-06-01), move a node by up to half a metre, re-tag a way (building yes/house, highway
residential/unclassified, a versioned name) or rename a relation; 3 % of the ways are deleted
after their last edit. The last visible versions are the plain file's map, nudged.

    python bench/osm_synth.py OUT.osm.pbf --nodes 10000000
    python bench/osm_synth.py OUT.osh.pbf --nodes 10000000 --history
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

CELL_M = 200.0
NODES_PER_CELL = 70  # measured average, used to size the grid
LAT0, LON0 = 41.0, -75.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
STAMP = datetime(2024, 6, 1, 12, 0, 0)
ROAD_NODE, ROAD_WAY = 198, 19  # ids kept free in each cell: after its own nodes and ways


@dataclass
class Cell:
    nodes: list = field(default_factory=list)  # (id, lon, lat, tags)
    ways: list = field(default_factory=list)  # (id, refs, tags)
    relations: list = field(default_factory=list)  # (id, members, tags)


class _CellBuilder:
    def __init__(self, index: int, side: int, seed: int):
        self.i = index
        self.rng = random.Random(seed * 1_000_003 + index)
        self.x0 = (index % side) * CELL_M
        self.y0 = (index // side) * CELL_M
        self.cell = Cell()
        self._node = index * 200 + 1
        self._way = index * 20 + 1
        self._rel = index * 4 + 1

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return (round(LON0 + (self.x0 + x) / M_PER_DEG_LON, 7),
                round(LAT0 + (self.y0 + y) / M_PER_DEG_LAT, 7))

    def node(self, x: float, y: float, tags: dict | None = None) -> int:
        nid = self._node
        self._node += 1
        self.cell.nodes.append((nid, *self.lonlat(x, y), tags or {}))
        return nid

    def way(self, refs: list[int], tags: dict) -> int:
        wid = self._way
        self._way += 1
        self.cell.ways.append((wid, refs, tags))
        return wid

    def ring(self, points: list[tuple[float, float]], tags: dict) -> int:
        refs = [self.node(x, y) for x, y in points]
        return self.way(refs + refs[:1], tags)

    def relation(self, members: list, tags: dict) -> None:
        self.cell.relations.append((self._rel, members, tags))
        self._rel += 1


def _box(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _blob(cx: float, cy: float, r: float, n: int, rng: random.Random) -> list[tuple[float, float]]:
    return [(cx + r * (0.8 + 0.2 * rng.random()) * math.cos(2 * math.pi * k / n),
             cy + r * (0.8 + 0.2 * rng.random()) * math.sin(2 * math.pi * k / n)) for k in range(n)]


def build_cell(index: int, side: int, seed: int) -> Cell:
    b = _CellBuilder(index, side, seed)
    rng, i = b.rng, index
    street = f"Street {i}"
    refs = [b.node(x, 6 + rng.uniform(-1, 1)) for x in [k * 200 / 19 for k in range(20)]]
    b.way(refs, {"highway": "residential", "name": street, "tiger:cfcc": "A41",
                 "tiger:county": "Pike, PA", "source": "tiger_import"})
    for k in range(6):
        x, y = 10 + (k % 3) * 28 + rng.uniform(0, 6), 20 + (k // 3) * 30 + rng.uniform(0, 6)
        tags = {"building": "house" if k % 2 else "yes"}
        if k < 3:
            tags |= {"addr:housenumber": str(k + 1), "addr:street": street}
        if k == 5:
            tags["source"] = "survey"
        b.ring(_box(x, y, 12 + rng.uniform(0, 4), 9 + rng.uniform(0, 3)), tags)
    landuse = ("grass", "residential", "meadow", "farmland")[i % 4]
    b.ring(_blob(150, 110, 35, 20, rng), {"landuse": landuse} if i % 9 else {"leisure": "park"})
    b.node(20, 90, {"amenity": "bench"})
    b.node(60, 92, {"shop": "bakery", "name": f"Bakery {i}", "phone": "+1 555 0100"})
    b.node(100, 95, {"created_by": "JOSM"})
    if i % 10 == 0:
        b.ring(_box(5, 150, 60, 2), {"natural": "tree_row"})
    if i % 7 == 0:
        b.ring(_box(95, 20, 10, 50), {"barrier": "hedge"})
    if i % 5 == 0:
        b.ring(_box(8, 80, 40, 30), {"barrier": "fence"})
    if i % 25 == 0:  # lake, outer split over two ways, one island
        pts = _blob(60, 160, 30, 12, rng)
        ids = [b.node(x, y) for x, y in pts]
        west = b.way(ids[:7], {})
        east = b.way(ids[6:] + ids[:1], {})
        island = b.ring(_blob(60, 160, 8, 6, rng), {})
        b.relation([("w", west, "outer"), ("w", east, "outer"), ("w", island, "inner")],
                   {"type": "multipolygon", "natural": "water", "name": f"Lake {i}"})
    if i % 40 == 0:  # two outers in one relation
        one = b.ring(_box(120, 150, 20, 20), {})
        two = b.ring(_box(160, 150, 20, 20), {})
        b.relation([("w", one, "outer"), ("w", two, "outer")],
                   {"type": "multipolygon", "landuse": "forest"})
    if i % 400 == 0:  # a ring that cannot be closed
        ids = [b.node(x, y) for x, y in _box(120, 60, 20, 20)]
        open_way = b.way(ids[:3], {})
        b.relation([("w", open_way, "outer")], {"type": "multipolygon", "natural": "wetland"})
    if i % 300 == 0:  # a footway with a node the extract lacks
        a, c = b.node(5, 120), b.node(45, 125)
        b.way([a, index * 200 + 199, c], {"highway": "footway"})
    if i % 13 == 3:  # one in 13 cells: something an aerial photograph cannot show (or can)
        _unseen(b, (i // 13) % len(UNSEEN))
    row, col = divmod(i, side)
    if row % 10 == 5:  # a primary road across the grid: one node per cell, the way in column 0
        b.cell.nodes.append((index * 200 + ROAD_NODE, *b.lonlat(100, 140), {}))
        if col == 0:
            refs = [(row * side + c) * 200 + ROAD_NODE for c in range(side)]
            b.cell.ways.append((index * 20 + ROAD_WAY, refs,
                                {"highway": "primary", "name": f"Route {row}", "ref": "PA 6"}))
    return b.cell


# What the visibility_rules seed hides, as a US town maps it, one kind per chosen cell (no
# random draws, so the rest of the cell is what it was): a culvert taking a stream under the
# street, buried gas and power lines, a proposed street, an underground car park, and the near
# miss, a pipeline marked overground, which stays.
UNSEEN = (
    ("line", (170, 0, 170, 14), {"waterway": "stream", "tunnel": "culvert", "layer": "-1"}),
    ("line", (0, 190, 200, 190), {"man_made": "pipeline", "substance": "gas"}),
    ("line", (0, 185, 200, 185), {"power": "cable", "location": "underground",
                                  "voltage": "12470"}),
    ("line", (190, 14, 190, 120), {"highway": "proposed", "proposed": "residential"}),
    ("ring", (110, 30, 30, 20), {"amenity": "parking", "parking": "underground", "layer": "-1"}),
    ("line", (0, 195, 200, 195), {"man_made": "pipeline", "location": "overground",
                                  "substance": "water"}),
)


def _unseen(b: _CellBuilder, kind: int) -> None:
    shape, (x, y, u, v), tags = UNSEEN[kind]
    if shape == "ring":
        b.ring(_box(x, y, u, v), dict(tags))
    else:
        b.way([b.node(x, y), b.node(u, v)], dict(tags))


HISTORY_START, HISTORY_END = datetime(2010, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
NEW_FROM, NEW_TO = datetime(2021, 8, 1, tzinfo=UTC), datetime(2022, 11, 26, tzinfo=UTC)
MAPPED_BY = datetime(2020, 12, 31, tzinfo=UTC)  # the other cells are mapped before this
JITTER_DEG = 0.5 / M_PER_DEG_LAT  # how far a later node version moves, at most
_FLIPS = {"building": ("yes", "house"), "highway": ("residential", "unclassified")}


class Versions:
    """The versions of each object of a history file, drawn from ``random.Random`` seeded by
    the object (so a cell's history does not depend on the others'). Each method returns the
    mutable pyosmium objects to write, oldest first."""

    def __init__(self, seed: int):
        self.seed = seed

    def _rng(self, kind: str, oid: int) -> random.Random:
        return random.Random(f"{self.seed}:{kind}:{oid}")

    def born(self, cell: int) -> datetime:
        rng = random.Random(f"{self.seed}:cell:{cell}")
        lo, hi = (NEW_FROM, NEW_TO) if rng.random() < 0.05 else (HISTORY_START, MAPPED_BY)
        return lo + (hi - lo) * rng.random()

    def _times(self, rng: random.Random, born: datetime) -> list[datetime]:
        extra = sum(rng.random() < 0.5 for _ in range(4))
        return [born] + sorted(born + (HISTORY_END - born) * rng.random() for _ in range(extra))

    def nodes(self, nid: int, lon: float, lat: float, tags: dict, born: datetime) -> list:
        from osmium.osm.mutable import Node

        rng = self._rng("n", nid)
        out = []
        for version, when in enumerate(self._times(rng, born), 1):
            if version > 1:
                lon = round(lon + rng.uniform(-1, 1) * JITTER_DEG, 7)
                lat = round(lat + rng.uniform(-1, 1) * JITTER_DEG, 7)
            out.append(Node(id=nid, version=version, timestamp=when, location=(lon, lat),
                            tags=tags))
        return out

    def _retag(self, tags: dict, version: int) -> dict:
        for key, (a, b) in _FLIPS.items():
            if key in tags:
                return {**tags, key: (a, b)[version % 2]}
        return {**tags, "name": f"{tags.get('name', 'Place')} v{version}"} if tags else tags

    def ways(self, wid: int, refs: list[int], tags: dict, born: datetime) -> list:
        from osmium.osm.mutable import Way

        rng = self._rng("w", wid)
        times = self._times(rng, born)
        out = [Way(id=wid, version=v, timestamp=t, nodes=refs,
                   tags=tags if v == 1 else self._retag(tags, v)) for v, t in enumerate(times, 1)]
        if tags and rng.random() < 0.03:  # deleted after its last edit
            when = times[-1] + (HISTORY_END - times[-1]) * rng.random()
            out.append(Way(id=wid, version=len(out) + 1, timestamp=when, visible=False,
                           nodes=[], tags={}))
        return out

    def relations(self, rid: int, members: list, tags: dict, born: datetime) -> list:
        from osmium.osm.mutable import Relation

        rng = self._rng("r", rid)
        return [Relation(id=rid, version=v, timestamp=t, members=members,
                         tags=tags if v == 1 or "name" not in tags
                         else {**tags, "name": f"{tags['name']} v{v}"})
                for v, t in enumerate(self._times(rng, born), 1)]


def grid_side(target_nodes: int) -> int:
    return max(1, math.ceil(math.sqrt(target_nodes / NODES_PER_CELL)))


def generate(path: str | Path, target_nodes: int, seed: int = 0, progress: bool = False,
             history: bool = False) -> Path:
    """Write a synthetic extract of about ``target_nodes`` nodes to ``path`` (with
    ``history``: a full-history file of it, see ``Versions``)."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    versions = Versions(seed) if history else None

    side = grid_side(target_nodes)
    cells = side * side
    top = cells * 200 + 1
    corners = [(0, 0), (side * CELL_M, 0), (side * CELL_M, side * CELL_M), (0, side * CELL_M)]
    header = osmium.io.Header()
    header.set("generator", "rsteller-db bench/osm_synth.py")
    header.set("osmosis_replication_timestamp",
               (HISTORY_END if history else STAMP).strftime("%Y-%m-%dT%H:%M:%SZ"))
    header.has_multiple_object_versions = history
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = ".osh.pbf" if history else ".osm.pbf"  # osmium writes the history flag for .osh only
    tmp = path.with_name(path.name + ".part" + ext)
    later = {kind: path.with_name(f"{path.name}.{kind}{ext}") for kind in ("ways", "relations")}
    # one pass over the cells: nodes go straight to the file, ways and relations to files of
    # their own (PBF order wants all nodes first), copied in after; nothing is held in memory
    with osmium.SimpleWriter(str(tmp), header=header, overwrite=True) as writer, \
            osmium.SimpleWriter(str(later["ways"]), overwrite=True) as ways, \
            osmium.SimpleWriter(str(later["relations"]), overwrite=True) as relations:
        for i in range(cells):
            if progress and i % 20000 == 0:
                print(f"  cell {i}/{cells}", file=sys.stderr)
            cell = build_cell(i, side, seed)
            if versions is not None:
                born = versions.born(i)
                for nid, lon, lat, tags in cell.nodes:
                    for node in versions.nodes(nid, lon, lat, tags, born):
                        writer.add_node(node)
                for wid, refs, tags in cell.ways:
                    for way in versions.ways(wid, refs, tags, born):
                        ways.add_way(way)
                for rid, members, tags in cell.relations:
                    for relation in versions.relations(rid, members, tags, born):
                        relations.add_relation(relation)
                continue
            for nid, lon, lat, tags in cell.nodes:
                writer.add_node(Node(id=nid, location=(lon, lat), tags=tags, version=1))
            for wid, refs, tags in cell.ways:
                ways.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
            for rid, members, tags in cell.relations:
                relations.add_relation(Relation(id=rid, members=members, tags=tags, version=1))
        since = {"timestamp": HISTORY_START} if history else {}  # the county never changes
        for k, (x, y) in enumerate(corners):  # the county boundary's corners, ways, relation
            lonlat = (LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT)
            writer.add_node(Node(id=top + k, version=1, location=lonlat, **since))
        for k in range(4):
            ways.add_way(Way(id=cells * 20 + 1 + k, version=1,
                             nodes=[top + k, top + (k + 1) % 4],
                             tags={"boundary": "administrative", "admin_level": "6"}, **since))
        relations.add_relation(Relation(
            id=cells * 4 + 1, version=1,
            members=[("w", cells * 20 + 1 + k, "outer") for k in range(4)],
            tags={"type": "boundary", "boundary": "administrative", "admin_level": "6",
                  "name": "Pike County"}, **since))
        ways.close()
        relations.close()
        for kind in ("ways", "relations"):
            if progress:
                print(f"  copying {kind}", file=sys.stderr)
            for obj in osmium.FileProcessor(str(later[kind])):
                if kind == "ways":
                    writer.add_way(obj)
                else:
                    writer.add_relation(obj)
    for part in later.values():
        part.unlink()
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history", action="store_true",
                        help="a full-history file (.osh.pbf) of the same map, ~3 versions each")
    args = parser.parse_args()
    generate(args.out, args.nodes, args.seed, progress=True, history=args.history)
    print(args.out)


if __name__ == "__main__":
    main()
