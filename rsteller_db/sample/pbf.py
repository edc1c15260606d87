"""Turn a :class:`Layout` into OSM objects and write them as an ``.osm.pbf``.

Topology follows OSM habits: ways that touch share a node (coordinates equal
to the millimetre are the same node), and highways on the same layer get a
shared node wherever they cross.  Ids are assigned in creation order and
objects are written nodes -> ways -> relations, each sorted by id, with
version 1 and one fixed timestamp so the file is reproducible byte for byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .geo import utm_to_lonlat
from .model import Coord, Layout
from .shapes import polyline_crossings

TIMESTAMP = datetime(2022, 9, 1, tzinfo=UTC)
TIMESTAMP_ISO = "2022-09-01T00:00:00Z"
GENERATOR = "rsteller-db sample town"
CHANGESET = 125000001
UID = 1
USER = "millbrook_mapper"


@dataclass(frozen=True)
class OsmData:
    """Plain OSM objects: nodes ``(id, lon, lat, tags)``, ways ``(id, node_ids, tags)``,
    relations ``(id, [(type, ref, role)], tags)``."""

    nodes: list[tuple[int, float, float, dict[str, str]]]
    ways: list[tuple[int, list[int], dict[str, str]]]
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]]

    @property
    def counts(self) -> dict[str, int]:
        return {"node": len(self.nodes), "way": len(self.ways), "relation": len(self.relations)}

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        lons = [n[1] for n in self.nodes]
        lats = [n[2] for n in self.nodes]
        return (min(lons), min(lats), max(lons), max(lats))


def _near(p: Coord, q: Coord, tol: float = 1e-3) -> bool:
    return abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol


def with_junctions(layout: Layout) -> list[list[Coord]]:
    """Way coordinates with a vertex added wherever two same-layer highways cross."""
    coords = [list(w.coords) for w in layout.ways]
    roads = [i for i, w in enumerate(layout.ways) if "highway" in w.tags]
    extra: dict[int, list[tuple[int, float, Coord]]] = {i: [] for i in roads}
    for k, a in enumerate(roads):
        for b in roads[k + 1:]:
            if layout.ways[a].tags.get("layer", "0") != layout.ways[b].tags.get("layer", "0"):
                continue
            for sa, t, sb, u, p in polyline_crossings(coords[a], coords[b]):
                ends = (coords[a][sa], coords[a][sa + 1], coords[b][sb], coords[b][sb + 1])
                for e in ends:  # snap to an existing vertex when that close
                    if _near(p, e):
                        p = e
                        break
                extra[a].append((sa, t, p))
                extra[b].append((sb, u, p))
    for i, inserts in extra.items():
        if not inserts:
            continue
        old, new = coords[i], [coords[i][0]]
        for s in range(len(old) - 1):
            for _, _, p in sorted((x for x in inserts if x[0] == s), key=lambda x: x[1]):
                if not _near(p, new[-1]) and not _near(p, old[s + 1]):
                    new.append(p)
            new.append(old[s + 1])
        coords[i] = new
    return coords


def build_osm(layout: Layout) -> OsmData:
    """Assign ids, share nodes between touching ways and project to lon/lat."""
    node_ids: dict[tuple[int, int], int] = {}
    node_xy: list[Coord] = []

    def node_for(p: Coord) -> int:
        key = (round(p[0] * 1000), round(p[1] * 1000))
        nid = node_ids.get(key)
        if nid is None:
            node_xy.append(p)
            nid = node_ids[key] = len(node_xy)
        return nid

    ways = []
    junctioned = with_junctions(layout)
    for wid, (way, pts) in enumerate(zip(layout.ways, junctioned, strict=True), start=1):
        refs = [node_for(p) for p in pts]
        refs = [r for k, r in enumerate(refs) if k == 0 or r != refs[k - 1]]
        ways.append((wid, refs, dict(way.tags)))
    tagged = {}
    for poi in layout.nodes:
        node_xy.append(poi.xy)
        tagged[len(node_xy)] = poi.tags
    poi_ids = sorted(tagged)

    xy = np.array(node_xy, dtype=np.float64)
    lon, lat = utm_to_lonlat(layout.origin[0] + xy[:, 0], layout.origin[1] + xy[:, 1])
    nodes = [(i + 1, round(float(lon[i]), 7), round(float(lat[i]), 7), dict(tagged.get(i + 1, {})))
             for i in range(len(node_xy))]

    relations = []
    for rid, rel in enumerate(layout.relations, start=1):
        members = []
        for kind, index, role in rel.members:
            ref = poi_ids[index] if kind == "n" else index + 1
            members.append((kind, ref, role))
        relations.append((rid, members, dict(rel.tags)))
    return OsmData(nodes, ways, relations)


def write_pbf(data: OsmData, path: Path) -> None:
    """Write ``data`` to ``path`` (overwriting it) as a reproducible OSM PBF file."""
    import osmium
    from osmium.osm import Box, Location
    from osmium.osm.mutable import Node, Relation, Way

    header = osmium.io.Header()
    header.set("generator", GENERATOR)
    header.set("osmosis_replication_timestamp", TIMESTAMP_ISO)
    minlon, minlat, maxlon, maxlat = data.bounds
    # the header box is rounded outwards to whole 1e-7 degrees
    header.add_box(Box(Location(math.floor(minlon * 1e7) / 1e7, math.floor(minlat * 1e7) / 1e7),
                       Location(math.ceil(maxlon * 1e7) / 1e7, math.ceil(maxlat * 1e7) / 1e7)))
    meta = {"version": 1, "timestamp": TIMESTAMP, "changeset": CHANGESET, "uid": UID,
            "user": USER, "visible": True}
    path = Path(path)
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as writer:
        for nid, lon, lat, tags in data.nodes:
            writer.add_node(Node(id=nid, location=(lon, lat), tags=tags, **meta))
        for wid, refs, tags in data.ways:
            writer.add_way(Way(id=wid, nodes=refs, tags=tags, **meta))
        for rid, members, tags in data.relations:
            writer.add_relation(Relation(id=rid, members=members, tags=tags, **meta))
