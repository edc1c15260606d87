"""An independent assembly of OSM elements with pyosmium, for tests and benchmarks.

pyosmium builds the geometries on its own (node location index, libosmium's multipolygon
assembler); only the rules that decide *which* objects become elements are shared with
the SQL stages, read here in Python from the same seed files (osm_area_rules.csv,
osm_tag_drop_rules.csv). ``assemble(path)`` returns ``(kind, osm_type, osm_id, wkb)``
rows comparable with ``stg_osm__elements``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import osmium
import shapely

from ..paths import sql_folder


class Rules:
    """osm_area_rules.csv and osm_tag_drop_rules.csv, read in Python."""

    def __init__(self, seeds: Path | None = None):
        seeds = seeds or sql_folder("seeds")
        with (seeds / "osm_area_rules.csv").open() as fh:
            self.area: dict[str, tuple[str, set[str]]] = {}
            for row in csv.DictReader(fh):
                self.area.setdefault(row["key"], (row["policy"], set()))[1].add(row["value"])
        with (seeds / "osm_tag_drop_rules.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        self.drop = [self._like(r["key_pattern"]) for r in rows if r["action"] == "drop"]
        self.keep = [self._like(r["key_pattern"]) for r in rows if r["action"] == "keep"]

    @staticmethod
    def _like(pattern: str) -> re.Pattern:
        parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
        return re.compile("".join(parts), re.S)

    def is_area(self, tags: dict[str, str]) -> bool:
        if tags.get("area") == "no":
            return False
        for key, value in tags.items():
            policy, values = self.area.get(key, (None, set()))
            if policy == "include" and value in values:
                return True
            if policy == "exclude" and value not in values:
                return True
        return False

    def kept(self, tags: dict[str, str]) -> dict[str, str]:
        def dropped(key):
            return (any(p.fullmatch(key) for p in self.drop)
                    and not any(p.fullmatch(key) for p in self.keep))
        return {k: v for k, v in tags.items() if not dropped(k)}


class Assembler(osmium.SimpleHandler):
    """Elements as pyosmium sees them: (kind, osm_type, osm_id, tags, wkb)."""

    def __init__(self, rules: Rules):
        super().__init__()
        self.rules = rules
        self.wkb = osmium.geom.WKBFactory()
        self.lines: list[tuple] = []
        self.area_ways: set[int] = set()
        self.areas: list[tuple] = []
        self.points: list[tuple] = []

    def node(self, n):
        if len(n.tags):
            self.points.append(("point", "node", n.id, dict(n.tags), self.wkb.create_point(n)))

    def way(self, w):
        tags = dict(w.tags)
        closed = len(w.nodes) >= 4 and w.nodes[0].ref == w.nodes[-1].ref
        located = [n for n in w.nodes if n.location.valid()]
        if closed and self.rules.is_area(tags):
            if len(located) == len(w.nodes):  # an area with a node missing is left out
                self.area_ways.add(w.id)
        elif tags and len(located) == len(w.nodes):
            self.lines.append(("line", "way", w.id, tags, self.wkb.create_linestring(w)))
        elif tags and len(located) >= 2:  # a line cut at the border keeps the nodes present
            line = shapely.LineString([(n.lon, n.lat) for n in located])
            self.lines.append(("line", "way", w.id, tags, line.wkb_hex))

    def area(self, a):
        # an area may come before its way's own callback: filter the way areas at the end
        osm_type = "way" if a.from_way() else "relation"
        tags = dict(a.tags)
        if osm_type == "relation":
            tags.pop("type", None)
        try:
            wkb = self.wkb.create_multipolygon(a)
        except RuntimeError:  # libosmium could not assemble it (unclosed ring, ...)
            return
        self.areas.append(("area", osm_type, a.orig_id(), tags, wkb))

    def elements(self) -> list[tuple]:
        out = []
        for kind, osm_type, osm_id, tags, wkb in self.points + self.lines + self.areas:
            if kind == "area" and osm_type == "way" and osm_id not in self.area_ways:
                continue
            if "boundary" in tags or "admin_level" in tags:
                continue
            tags = self.rules.kept(tags)
            if tags:
                out.append((kind, osm_type, osm_id, bytes.fromhex(wkb)))
        return out


def assemble(path: str | Path, seeds: Path | None = None) -> list[tuple]:
    """(kind, osm_type, osm_id, wkb) of each element pyosmium assembles from ``path``."""
    handler = Assembler(Rules(seeds))
    handler.apply_file(str(path), locations=True)
    return handler.elements()
