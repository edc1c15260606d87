"""Feature layout of the synthetic town of Millbrook, PA (geometry in local metres).

Zoning, west to east and south to north (fractions of the town's side S)::

    y=S  +-------+------------+-----------------------+--------+
         | wood  |   lake     | civic | residential   | forest |
         | river |  (island)  | block | (street grid) |        |
    main ====== Main Street (US 209) ===== Broad St crossing ====
         | river | park  | school | commercial | residential E  |
    rail ------ railway (Pocono Main Line) ----------------------
         | field | industrial     |  farmland + farmyard        |
    y=0  +-------+----------------+-----------------------------+

The river (Mill River) meanders north-south through the west strip; Main
Street and the railway cross it on bridges.  Every random choice is drawn
from one ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import defaults
from . import blocks
from .model import Layout, Tree
from .shapes import (
    blob,
    box,
    cut_polyline,
    interp_x,
    interp_y,
    l_shape,
    polyline_crossings,
    rect,
)

#: UTM 18N (NAD83) easting/northing of the town's south-west corner; both are
#: multiples of the 0.6 m NAIP pixel so the image grid lines up with the town.
ORIGIN = (480000.0, 4540800.0)
TOWN_NAME = "Millbrook"
MIN_SIZE_M = 900.0

STREETS = ["Maple Avenue", "Elm Street", "Cedar Lane", "Walnut Street", "Chestnut Street",
           "Pine Street", "Spruce Street", "Hickory Lane", "Willow Street", "Birch Avenue",
           "Sycamore Street", "Laurel Lane", "Dogwood Avenue", "Poplar Street", "Ash Street",
           "Locust Avenue", "Linden Street", "Magnolia Lane", "Juniper Street", "Holly Avenue",
           "Aspen Lane", "Beech Street", "Hemlock Street", "Mulberry Lane"]

MAIN_TAGS = {"highway": "primary", "name": "Main Street", "ref": "US 209", "lanes": "2",
             "maxspeed": "35 mph", "surface": "asphalt"}
BROAD_TAGS = {"highway": "secondary", "name": "Broad Street", "ref": "PA 447", "lanes": "2",
              "maxspeed": "35 mph"}
RAIL_TAGS = {"railway": "rail", "name": "Pocono Main Line", "usage": "main", "gauge": "1435",
             "operator": "Delaware-Lackawanna Railroad", "electrified": "no"}
RIVER_TAGS = {"waterway": "river", "name": "Mill River"}


def build_layout(seed: int = defaults.SAMPLE_SEED,
                 size_m: float = defaults.SAMPLE_SIZE_M) -> Layout:
    """Lay out the whole town for ``seed`` in a ``size_m`` square."""
    if size_m < MIN_SIZE_M:
        raise ValueError(f"size_m must be at least {MIN_SIZE_M:g} m, got {size_m:g}")
    rng = np.random.default_rng(seed)
    S = float(size_m)
    lay = Layout(size=S, origin=ORIGIN)

    def u(a: float, b: float) -> float:
        return float(rng.uniform(a, b))

    y_main = S * (0.52 + u(-0.02, 0.02))
    x_broad = S * (0.55 + u(-0.02, 0.02))
    x_oak = 0.80 * S
    x_lake_ave = 0.45 * S

    river = _river(rng, S)
    ya, yb = S * (0.22 + u(-0.02, 0.02)), S * u(0.01, 0.05)
    rail = [(x, ya + yb * x / S + 0.008 * S * math.sin(math.pi * x / S))
            for x in np.linspace(0.0, S, 17)]

    def rail_y(x0: float, x1: float) -> tuple[float, float]:
        ys = [interp_y(rail, x) for x in np.linspace(x0, x1, 9)]
        return min(ys), max(ys)

    # --- water ---------------------------------------------------------------
    lay.line(river, RIVER_TAGS, "river", width=22.0)
    _lake(lay, rng, S)
    for i in range(0, len(river) - 1, 2):  # riparian trees on both banks
        x, y = river[i]
        for side in (-1, 1):
            if rng.random() < 0.7:
                lay.trees.append(Tree(x + side * u(14, 24), y + u(-8, 8), u(3, 6)))

    # --- transport -----------------------------------------------------------
    _bridged(lay, [(0.0, y_main), (S, y_main)], MAIN_TAGS, "primary", river)
    _bridged(lay, rail, RAIL_TAGS, "rail", river)
    lay.line([(x_broad, 0.0), (x_broad, S)], BROAD_TAGS, "secondary")

    # --- north of Main Street --------------------------------------------------
    y_top = 0.95 * S
    spacing = u(140, 160)
    civic_top = y_main + 1.2 * spacing
    north = [y_main + spacing * k for k in range(1, 20) if y_main + spacing * k <= y_top - 40]
    lay.area(box(x_broad + 9, y_main + 9, x_oak + 15, y_top), {"landuse": "residential"},
             "residential")
    west_rows = [y for y in north if y > civic_top]
    if west_rows:
        lay.area(box(x_lake_ave - 25, civic_top, x_broad - 9, y_top), {"landuse": "residential"},
                 "residential")
    names = itertools.cycle(STREETS)
    for i, y in enumerate(north):
        x0 = x_lake_ave if y > civic_top else x_broad
        blocks.street_with_houses(lay, rng, next(names), y, x0, x_oak, spacing / 2,
                                  skip_x=(x_broad,), tiger=(i == 1))
    _civic(lay, rng, x_lake_ave, y_main, x_broad - 9, civic_top - 10)
    if west_rows:
        lay.line([(x_lake_ave, y_main), (x_lake_ave, west_rows[-1])],
                 {"highway": "residential", "name": "Lake Avenue"}, "residential")

    # --- between the railway and Main Street -----------------------------------
    comm_y0 = max(rail_y(x_broad, x_oak)[1] + 30, y_main - min(0.07 * S, 220))
    _, hi = rail_y(x_broad, 0.98 * S)
    south = [y_main - spacing * k for k in range(1, 20) if y_main - spacing * k >= hi + 60]
    residential = {"landuse": "residential"}
    if south:
        lay.area(box(x_oak + 9, hi + 25, 0.985 * S, y_main - 9), residential, "residential")
        if south[-1] < comm_y0 - 45:
            lay.area(box(x_broad + 9, hi + 25, x_oak - 9, comm_y0 - 9), residential,
                     "residential")
        for y in south:
            x0 = x_broad if y < comm_y0 - 45 else x_oak
            blocks.street_with_houses(lay, rng, next(names), y, x0, 0.98 * S, spacing / 2,
                                      skip_x=(x_oak,))
    oak_south = south[-1] if south else y_main
    oak_north = north[-1] if north else y_main + 60
    lay.line([(x_oak, oak_south), (x_oak, oak_north)],
             {"highway": "residential", "name": "Oak Street"}, "residential")
    blocks.commercial_zone(lay, rng, x_broad + 9, comm_y0, x_oak - 9, y_main - 9, y_main)
    lo, hi = rail_y(0.2 * S, x_broad)
    _park(lay, rng, 0.2 * S, hi + 25, 0.36 * S, y_main - 9, y_main)
    _school(lay, rng, 0.38 * S, max(hi + 25, y_main - 9 - min(0.1 * S, 320)), x_broad - 9,
            y_main - 9, x_broad)

    # --- south of the railway ----------------------------------------------------
    ind_y0 = max(0.02 * S, lo - 25 - 0.12 * S)
    blocks.industrial_zone(lay, rng, 0.2 * S, ind_y0, x_broad - 9, lo - 25, x_broad)
    if ind_y0 - 0.02 * S > 60:
        blocks.field(lay, rng, 0.2 * S, 0.02 * S, x_broad - 9, ind_y0 - 10)
    lo, _ = rail_y(x_broad, S)
    blocks.farm_zone(lay, rng, x_broad + 9, 0.01 * S, 0.99 * S, lo - 25, x_broad)
    lo, _ = rail_y(0.0, 0.2 * S)
    _west_strip(lay, rng, river, S, y_main, lo)
    _forest(lay, rng, S, max(x_oak + 25, 0.835 * S), y_main + 15)

    # --- administrative context ----------------------------------------------------
    centre = lay.poi((x_broad + 15, y_main + 15), place="town", name=TOWN_NAME,
                     population="4782", **{"is_in:state": "Pennsylvania"})
    border = lay.area(box(0.0, 0.0, S, S), {"boundary": "administrative", "admin_level": "8"},
                      None)
    lay.relation({"type": "boundary", "boundary": "administrative", "admin_level": "8",
                  "name": TOWN_NAME, "border_type": "borough"},
                 [("w", border, "outer"), ("n", centre, "admin_centre")])
    _clear_trees(lay)
    return lay


#: half widths (m) of what unmapped trees must not stand on
CLEARANCE = {"primary": 7.0, "secondary": 6.0, "residential": 4.5, "service": 3.0,
             "footway": 1.5, "track": 2.0, "rail": 4.0, "river": 11.0}


def _clear_trees(lay: Layout) -> None:
    """Drop unmapped trees that would stand on a road, the railway or the river."""
    segs, half = [], []
    for way in lay.ways:
        if way.style in CLEARANCE:
            for p, q in zip(way.coords, way.coords[1:], strict=False):
                segs.append((*p, *q))
                half.append(CLEARANCE[way.style])
    if not lay.trees or not segs:
        return
    s = np.array(segs)
    t = np.array([(tr.x, tr.y) for tr in lay.trees])
    d = s[:, 2:] - s[:, :2]
    rel = t[:, None, :] - s[None, :, :2]
    f = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-9), 0.0, 1.0)
    dist = np.hypot(*(rel - f[..., None] * d).transpose(2, 0, 1))
    radius = np.array([tr.radius for tr in lay.trees])
    ok = (dist >= np.array(half)[None, :] + 0.5 * radius[:, None]).all(axis=1)
    lay.trees = [tr for tr, keep in zip(lay.trees, ok, strict=True) if keep]


def _river(rng, S: float):
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    n = max(int(S / 40), 24)
    return [(S * (0.12 + 0.03 * math.sin(2 * math.pi * 1.2 * v + p1)
                  + 0.01 * math.sin(2 * math.pi * 3.1 * v + p2)), v * S)
            for v in np.linspace(1.0, 0.0, n + 1)]


def _bridged(lay: Layout, coords, tags, style: str, river) -> None:
    """Add a line, split into approach / bridge / approach where it crosses the river."""
    hits = polyline_crossings(coords, river)
    if not hits:
        lay.line(coords, tags, style)
        return
    seg, t = hits[0][0], hits[0][1]
    head, middle, tail = cut_polyline(coords, seg, t, 20.0, 20.0)
    lay.line(head, tags, style)
    lay.line(middle, {**tags, "bridge": "yes", "layer": "1"}, style, bridge=True)
    lay.line(tail, tags, style)


def _lake(lay: Layout, rng, S: float) -> None:
    """Cranberry Lake: multipolygon, outer ring split over two ways, one island."""
    cx, cy, rx, ry = 0.33 * S, 0.80 * S, 0.085 * S, 0.07 * S
    outer = blob(cx, cy, rx, ry, 48, rng.uniform(0, 2 * math.pi, 3), (0.08, 0.05, 0.03))
    island = blob(cx + 0.25 * rx, cy - 0.1 * ry, 0.2 * ry, 0.16 * ry, 14,
                  rng.uniform(0, 2 * math.pi, 2), (0.1, 0.05))
    a = lay.line(outer[:25], {}, None)
    b = lay.line(outer[24:] + [outer[0]], {}, None)
    i = lay.area(island, {}, None)
    lay.relation({"type": "multipolygon", "natural": "water", "water": "lake",
                  "name": "Cranberry Lake"},
                 [("w", a, "outer"), ("w", b, "outer"), ("w", i, "inner")], "water")
    for x, y in island[::2]:  # the island is wooded
        lay.trees.append(Tree(0.6 * x + 0.4 * (cx + 0.25 * rx), 0.6 * y + 0.4 * (cy - 0.1 * ry),
                              float(rng.uniform(3, 5))))


def _civic(lay: Layout, rng, x0, y0, x1, y1) -> None:
    """Church, borough hall and post office on Main Street west of Broad Street."""
    w = x1 - x0
    church = (x0 + 0.25 * w, y0 + 40)
    lay.area(rect(*church, 16, 32, float(rng.uniform(-3, 3))), {"building": "yes"}, "roof",
             color=(96, 92, 96), height=12.0, gable=True)
    lay.poi(church, amenity="place_of_worship", religion="christian", denomination="lutheran",
            name="St. Paul's Lutheran Church")
    hall = (x0 + 0.7 * w, y0 + 38)
    lay.area(rect(*hall, 30, 20), {"building": "yes", "amenity": "townhall",
                                   "name": "Millbrook Borough Hall"},
             "roof", color=(150, 100, 84), height=10.0, gable=True)
    lay.poi((hall[0] + 9, hall[1] - 4), amenity="post_office", name="Millbrook Post Office")
    top = min(y1, y0 + 100)
    if top > y0 + 65:
        blocks.parking(lay, hall[0] - 20, y0 + 56, hall[0] + 20, top, False)
        lay.line([(hall[0] + 24, y0), (hall[0] + 24, (y0 + 56 + top) / 2),
                  (hall[0] + 20, (y0 + 56 + top) / 2)], {"highway": "service"}, "service")
    for _ in range(6):
        lay.trees.append(Tree(x0 + float(rng.uniform(0.05, 0.95)) * w,
                              float(rng.uniform(y0 + 70, y1)), float(rng.uniform(3, 6))))


def _park(lay: Layout, rng, x0, y0, x1, y1, main_y) -> None:
    lay.area(box(x0, y0, x1, y1), {"leisure": "park", "name": "Memorial Park"}, "park")
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    foot = {"highway": "footway", "surface": "gravel"}
    lay.line([(x0 + 8, y0 + 8), (mx, my), (x1 - 8, y1 - 8)], foot, "footway")
    lay.line([(mx, main_y), (mx, my)], foot, "footway")
    lay.line([(x0 + 8, y1 - 52), (mx, my)], foot, "footway")
    lay.area(rect(mx + 20, my - 15, 12, 8), {"building": "yes", "name": "Memorial Park Pavilion"},
             "roof", color=(120, 70, 60), height=5.0, gable=True)
    blocks.parking(lay, x0 + 10, y1 - 40, x0 + 50, y1 - 5, True)
    for _ in range(int((x1 - x0) * (y1 - y0) / 2500)):
        tx, ty = float(rng.uniform(x0 + 5, x1 - 5)), float(rng.uniform(y0 + 5, y1 - 45))
        if abs(tx - mx) > 5:
            lay.trees.append(Tree(tx, ty, float(rng.uniform(3, 7))))


def _school(lay: Layout, rng, x0, y0, x1, y1, road_x) -> None:
    name = f"{TOWN_NAME} Elementary School"
    lay.area(box(x0, y0, x1, y1), {"amenity": "school", "name": name}, "school")
    w, h = x1 - x0, y1 - y0
    bw, bh = min(80.0, 0.45 * w), min(60.0, 0.4 * h)
    bx, by = x1 - 20 - bw / 2, y1 - 18 - bh / 2
    lay.area(l_shape(bx, by, bw, bh, 0.45, int(rng.integers(4))),
             {"building": "school", "name": name}, "roof", color=(176, 170, 160), height=9.0,
             flat=True)
    py1 = by - bh / 2 - 8
    py0 = max(y0 + 8, py1 - 40)
    blocks.parking(lay, bx - bw / 2, py0, bx + bw / 2, py1, True)
    lay.line([(road_x, (py0 + py1) / 2), (bx + bw / 2, (py0 + py1) / 2)],
             {"highway": "service", "service": "driveway"}, "service")
    pw, ph = min(100.0, 0.4 * w), min(64.0, 0.45 * h)
    if pw > 40 and ph > 30:
        lay.area(rect(x0 + 15 + pw / 2, y0 + 15 + ph / 2, pw, ph),
                 {"leisure": "pitch", "sport": "soccer"}, "pitch")
        side = min(70.0, ph)
        if bx - bw / 2 - (x0 + 35 + pw) > side:
            lay.area(rect(x0 + 30 + pw + side / 2, y0 + 15 + side / 2, side, side),
                     {"leisure": "pitch", "sport": "baseball"}, "pitch")


def _west_strip(lay: Layout, rng, river, S, y_main, rail_lo) -> None:
    """Woods west of the river north of Main Street, a field south of the railway."""
    ys = np.linspace(y_main + 15, 0.99 * S, 12)
    east = [(interp_x(river, y) - 22 + float(rng.uniform(-3, 3)), y) for y in ys]
    if min(x for x, _ in east) > 0.01 * S + 30:
        ring = [(0.01 * S, ys[0])] + east + [(0.01 * S, ys[-1])]
        lay.area(ring, {"natural": "wood", "leaf_type": "broadleaved"}, "forest")
    ys = np.linspace(0.01 * S, rail_lo - 25, 6)
    east = [(interp_x(river, y) - 25, y) for y in ys]
    if min(x for x, _ in east) > 0.01 * S + 40:
        ring = [(0.01 * S, ys[0])] + east + [(0.01 * S, ys[-1])]
        lay.area(ring, {"landuse": "farmland", "crop": "hay"}, "farmland",
                 color=blocks.CROPS[2][1], angle=float(rng.uniform(-5, 5)), period=4.0)


def _forest(lay: Layout, rng, S, x0, y0) -> None:
    ys = np.arange(y0, 0.99 * S, 40.0)
    west = [(x0 + float(rng.uniform(0, 0.012 * S)), float(y)) for y in ys]
    ring = west + [(0.99 * S, west[-1][1]), (0.99 * S, y0)]
    lay.area(ring, {"landuse": "forest", "leaf_type": "mixed"}, "forest")
