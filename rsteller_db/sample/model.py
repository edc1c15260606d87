"""In-memory layout of the sample town, shared by the PBF writer and the renderer.

Geometry is kept in *local* metres: x grows east and y grows north from the
town's south-west corner, which sits at ``Layout.origin`` in UTM 18N.  Every
OSM object carries its tags plus a ``style`` (how the renderer paints it) and
free-form ``params`` (per-object look: roof colour, crop stripes, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Coord = tuple[float, float]


@dataclass
class SampleNode:
    """A tagged stand-alone node (point of interest, place label)."""

    xy: Coord
    tags: dict[str, str]


@dataclass
class SampleWay:
    """A way; closed ways repeat their first coordinate at the end."""

    coords: list[Coord]
    tags: dict[str, str]
    style: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return len(self.coords) > 3 and self.coords[0] == self.coords[-1]


@dataclass
class SampleRelation:
    """A relation; members are ``(kind, index, role)`` with kind ``"n"``/``"w"``
    and the index pointing into ``Layout.nodes`` / ``Layout.ways``."""

    tags: dict[str, str]
    members: list[tuple[str, int, str]]
    style: str | None = None
    params: dict = field(default_factory=dict)


@dataclass
class Tree:
    """An unmapped tree crown, drawn in the image only (as in real imagery)."""

    x: float
    y: float
    radius: float


@dataclass
class Layout:
    size: float
    origin: Coord  # UTM 18N easting/northing of local (0, 0)
    nodes: list[SampleNode] = field(default_factory=list)
    ways: list[SampleWay] = field(default_factory=list)
    relations: list[SampleRelation] = field(default_factory=list)
    trees: list[Tree] = field(default_factory=list)
    paved: list[list[Coord]] = field(default_factory=list)  # unmapped driveways

    def poi(self, xy: Coord, **tags: str) -> int:
        self.nodes.append(SampleNode((float(xy[0]), float(xy[1])), dict(tags)))
        return len(self.nodes) - 1

    def line(self, coords, tags: dict[str, str], style: str | None, **params) -> int:
        pts = [(float(x), float(y)) for x, y in coords]
        self.ways.append(SampleWay(pts, dict(tags), style, params))
        return len(self.ways) - 1

    def area(self, ring, tags: dict[str, str], style: str | None, **params) -> int:
        pts = [(float(x), float(y)) for x, y in ring]
        if pts[0] != pts[-1]:
            pts.append(pts[0])
        self.ways.append(SampleWay(pts, dict(tags), style, params))
        return len(self.ways) - 1

    def relation(self, tags, members, style: str | None = None, **params) -> int:
        self.relations.append(SampleRelation(dict(tags), list(members), style, params))
        return len(self.relations) - 1

    def feature_counts(self) -> dict[str, int]:
        """How many features of each theme the town holds (for reports/tests)."""
        counts: dict[str, int] = {}

        def bump(key: str) -> None:
            counts[key] = counts.get(key, 0) + 1

        for way in self.ways:
            t = way.tags
            if "building" in t:
                bump("building")
            elif "highway" in t:
                bump(f"highway={t['highway']}")
            elif "landuse" in t:
                bump(f"landuse={t['landuse']}")
            elif t.get("natural") in ("wood", "tree_row"):
                bump(f"natural={t['natural']}")
            elif "leisure" in t:
                bump(f"leisure={t['leisure']}")
            elif "amenity" in t:
                bump(f"amenity={t['amenity']}")
            elif "railway" in t or "waterway" in t:
                key = "railway" if "railway" in t else "waterway"
                bump(f"{key}={t[key]}")
        for rel in self.relations:
            bump(f"relation:{rel.tags.get('type', '')}")
        counts["poi"] = len(self.nodes)
        counts["unmapped_trees"] = len(self.trees)
        return dict(sorted(counts.items()))
