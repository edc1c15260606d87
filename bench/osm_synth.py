"""A deterministic synthetic OSM extract of any size, for ``bench/osm_ingest.py``.

The region is a square grid of 200 m cells near 41 N, 75 W. Each cell holds a street
(TIGER-style tags), six buildings, a landuse blob, points of interest and, now and then, a
tree row, hedges and fences, a lake multipolygon with an island and an outer ring split over
two ways, a forest with two outers, a relation with an unclosable ring and a way with a
missing node. Every tenth row of cells has a primary road across the whole grid (long lines
cross partition edges). A county boundary relation surrounds the grid. About 70 nodes per cell.

Cells are drawn from ``random.Random(seed, cell)`` and written as they are made: nodes to the
output, ways and relations to two side files copied in after the nodes (PBF order), so memory
stays flat whatever the size.

    python bench/osm_synth.py OUT.osm.pbf --nodes 10000000
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime
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
    row, col = divmod(i, side)
    if row % 10 == 5:  # a primary road across the grid: one node per cell, the way in column 0
        b.cell.nodes.append((index * 200 + ROAD_NODE, *b.lonlat(100, 140), {}))
        if col == 0:
            refs = [(row * side + c) * 200 + ROAD_NODE for c in range(side)]
            b.cell.ways.append((index * 20 + ROAD_WAY, refs,
                                {"highway": "primary", "name": f"Route {row}", "ref": "PA 6"}))
    return b.cell


def grid_side(target_nodes: int) -> int:
    return max(1, math.ceil(math.sqrt(target_nodes / NODES_PER_CELL)))


def generate(path: str | Path, target_nodes: int, seed: int = 0, progress: bool = False) -> Path:
    """Write a synthetic extract of about ``target_nodes`` nodes to ``path``."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    side = grid_side(target_nodes)
    cells = side * side
    top = cells * 200 + 1
    corners = [(0, 0), (side * CELL_M, 0), (side * CELL_M, side * CELL_M), (0, side * CELL_M)]
    header = osmium.io.Header()
    header.set("generator", "rsteller-db bench/osm_synth.py")
    header.set("osmosis_replication_timestamp", STAMP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = Path(path)
    tmp = path.with_name(path.name + ".part.osm.pbf")
    later = {kind: path.with_name(f"{path.name}.{kind}.osm.pbf") for kind in ("ways", "relations")}
    # one pass over the cells: nodes go straight to the file, ways and relations to files of
    # their own (PBF order wants all nodes first), copied in after; nothing is held in memory
    with osmium.SimpleWriter(str(tmp), header=header, overwrite=True) as writer, \
            osmium.SimpleWriter(str(later["ways"]), overwrite=True) as ways, \
            osmium.SimpleWriter(str(later["relations"]), overwrite=True) as relations:
        for i in range(cells):
            if progress and i % 20000 == 0:
                print(f"  cell {i}/{cells}", file=sys.stderr)
            cell = build_cell(i, side, seed)
            for nid, lon, lat, tags in cell.nodes:
                writer.add_node(Node(id=nid, location=(lon, lat), tags=tags, version=1))
            for wid, refs, tags in cell.ways:
                ways.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
            for rid, members, tags in cell.relations:
                relations.add_relation(Relation(id=rid, members=members, tags=tags, version=1))
        for k, (x, y) in enumerate(corners):  # the county boundary's corners, ways, relation
            lonlat = (LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT)
            writer.add_node(Node(id=top + k, version=1, location=lonlat))
        for k in range(4):
            ways.add_way(Way(id=cells * 20 + 1 + k, version=1,
                             nodes=[top + k, top + (k + 1) % 4],
                             tags={"boundary": "administrative", "admin_level": "6"}))
        relations.add_relation(Relation(
            id=cells * 4 + 1, version=1,
            members=[("w", cells * 20 + 1 + k, "outer") for k in range(4)],
            tags={"type": "boundary", "boundary": "administrative", "admin_level": "6",
                  "name": "Pike County"}))
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
    args = parser.parse_args()
    generate(args.out, args.nodes, args.seed, progress=True)
    print(args.out)


if __name__ == "__main__":
    main()
