"""Neighbourhood generators: each fills one zone of the town with OSM features.

All functions take the shared :class:`Layout`, a seeded numpy Generator and
the zone's box in local metres; every random choice comes from that Generator
so a given seed always lays out the same town.
"""

from __future__ import annotations

import numpy as np

from .model import Layout, Tree
from .shapes import box, l_shape, rect

HOUSE_ROOFS = [(92, 88, 86), (120, 112, 104), (70, 72, 78), (140, 96, 78), (160, 156, 150),
               (104, 84, 72), (58, 60, 62)]
FLAT_ROOFS = [(198, 198, 194), (176, 178, 176), (214, 212, 206), (150, 152, 150)]
CROPS = [("maize", (96, 134, 62)), ("soy", (120, 146, 70)), ("hay", (168, 160, 104)),
         ("wheat", (186, 168, 118))]


def house(lay: Layout, rng: np.random.Generator, cx, cy, w, d, street: str | None, number: int):
    """One detached house, rectangular or L-shaped, with a gable roof look."""
    angle = float(rng.uniform(-4, 4))
    if rng.random() < 0.25:
        ring = l_shape(cx, cy, w, d, float(rng.uniform(0.3, 0.45)), int(rng.integers(4)), angle)
        gable = False
    else:
        ring = rect(cx, cy, w, d, angle)
        gable = True
    tags = {"building": "house"}
    if street and rng.random() < 0.3:
        tags.update({"addr:housenumber": str(number), "addr:street": street})
    roof = HOUSE_ROOFS[int(rng.integers(len(HOUSE_ROOFS)))]
    lay.area(ring, tags, "roof", color=roof, height=float(rng.uniform(6, 9)), gable=gable)


def street_with_houses(lay, rng, name, y, x0, x1, depth, skip_x=(), tiger=False):
    """An east-west residential street from x0 to x1 lined with houses on both sides.

    ``depth`` is the lot depth on each side; ``skip_x`` lists x positions of
    cross streets to keep clear of.
    """
    tags = {"highway": "residential", "name": name}
    if tiger:
        base, kind = name.rsplit(" ", 1)
        tags.update({
            "tiger:cfcc": "A41", "tiger:county": "Monroe, PA", "tiger:name_base": base,
            "tiger:name_type": {"Street": "St", "Avenue": "Ave", "Lane": "Ln"}.get(kind, kind),
            "tiger:reviewed": "no", "tiger:zip_left": "18360", "tiger:zip_right": "18360",
            "source": "tiger_import_dch_v0.6_20070809",
        })
    lay.line([(x0, y), (x1, y)], tags, "residential")
    number = 100
    for side in (-1, 1):
        x = x0 + 20.0
        while x < x1 - 20.0:
            lot = float(rng.uniform(34, 44))
            cx = x + lot / 2
            x += lot
            number += 2
            if cx + lot / 2 > x1 - 14 or any(abs(cx - s) < 30 for s in skip_x):
                continue
            if rng.random() < 0.3:  # vacant lot
                continue
            w, d = float(rng.uniform(10, 16)), float(rng.uniform(8, 12))
            setback = float(rng.uniform(11, 15))
            cy = y + side * (setback + d / 2)
            house(lay, rng, cx, cy, w, d, name, number)
            dx = (w / 2 + 1.8) * (1 if rng.random() < 0.5 else -1)
            lay.paved.append(box(cx + dx - 1.6, min(y, cy), cx + dx + 1.6, max(y, cy)))
            for _ in range(int(rng.integers(1, 6))):
                ty = y + side * float(rng.uniform(setback + d + 4, depth - 3))
                if (ty - y) * side > setback + d + 2:
                    tx = cx + float(rng.uniform(-lot / 2 + 2, lot / 2 - 2))
                    lay.trees.append(Tree(tx, ty, float(rng.uniform(2.5, 5.0))))


def parking(lay, x0, y0, x1, y1, rows_vertical: bool, **extra):
    tags = {"amenity": "parking", "parking": "surface"}
    tags.update(extra)
    return lay.area(box(x0, y0, x1, y1), tags, "parking", vertical=rows_vertical)


def _store(lay, cx, width, depth, main_y, tags, color, height=8.0):
    """A big-box store set back from Main Street behind its own parking lot."""
    sd = min(46.0, 0.35 * depth)
    lot_y1 = main_y - 14
    lot_y0 = lot_y1 - float(np.clip(depth - sd - 40, 20, 70))
    by = lot_y0 - 8 - sd / 2
    lay.area(rect(cx, by, width, sd), tags, "roof", color=color, height=height, flat=True)
    parking(lay, cx - width / 2, lot_y0, cx + width / 2, lot_y1, True)
    lay.line([(cx, main_y), (cx, lot_y0)], {"highway": "service"}, "service")
    return by


SHOPS = [
    ({"amenity": "cafe", "cuisine": "coffee_shop", "name": "Main Street Coffee"}, False),
    ({"amenity": "bank", "name": "First Keystone Bank"}, False),
    ({"amenity": "restaurant", "cuisine": "pizza", "name": "Rosa's Pizzeria"}, False),
    ({"shop": "hardware", "name": "Millbrook Hardware"}, True),
    ({"amenity": "pharmacy", "healthcare": "pharmacy", "name": "Ridge Pharmacy"}, False),
]


def commercial_zone(lay, rng, x0, y0, x1, y1, main_y):
    """Supermarket and a strip mall behind their lots, small shops and a gas station
    fronting Main Street."""
    lay.area(box(x0, y0, x1, y1), {"landuse": "commercial"}, "commercial")
    width, depth = x1 - x0, y1 - y0
    cx = x0 + 0.22 * width
    by = _store(lay, cx, min(72.0, 0.3 * width), depth, main_y,
                {"building": "commercial", "name": "Valley Fresh Market"}, FLAT_ROOFS[0])
    lay.poi((cx, by), shop="supermarket", name="Valley Fresh Market",
            opening_hours="Mo-Su 07:00-22:00")
    _store(lay, x0 + 0.55 * width, min(110.0, 0.3 * width), depth, main_y,
           {"building": "commercial"}, FLAT_ROOFS[2], height=6.0)
    x, k = x0 + 0.72 * width, 0
    while x < x1 - 30:
        w, d = float(rng.uniform(14, 26)), float(rng.uniform(12, 22))
        cx, cy = x + w / 2, main_y - 16 - d / 2
        tags = {"building": "commercial"}
        if k < len(SHOPS):
            poi_tags, name_building = SHOPS[k]
            k += 1
            if name_building:
                tags["name"] = poi_tags["name"]
            lay.poi((cx, cy), **poi_tags)
        lay.area(rect(cx, cy, w, d), tags, "roof",
                 color=FLAT_ROOFS[int(rng.integers(len(FLAT_ROOFS)))], height=6.0, flat=True)
        x += w + float(rng.uniform(8, 20))
    # gas station behind the shops at the east end
    gx, gy = x1 - 24, max(y0 + 14, main_y - 60)
    lay.area(rect(gx, gy, 14, 9), {"building": "commercial"}, "roof",
             color=FLAT_ROOFS[1], height=4.0, flat=True)
    lay.poi((gx, gy + 10), amenity="fuel", name="Millbrook Gas", brand="Sunoco")


def industrial_zone(lay, rng, x0, y0, x1, y1, road_x):
    """Big sheds on an access road off Broad Street, with staff parking."""
    lay.area(box(x0, y0, x1, y1), {"landuse": "industrial"}, "industrial")
    ry = (y0 + y1) / 2
    lay.line([(road_x, ry), (x0 + 15, ry)], {"highway": "service", "name": "Industrial Drive"},
             "service")
    cols = 2 if x1 - x0 < 500 else 3
    cw = (x1 - x0 - 20) / cols
    named = False
    for c in range(cols):
        for side in (-1, 1):
            cell_h = (y1 - y0) / 2 - 30
            w = min(130.0, cw * float(rng.uniform(0.45, 0.7)))
            h = min(90.0, cell_h * float(rng.uniform(0.45, 0.75)))
            cx = x0 + 10 + cw * (c + 0.5) + float(rng.uniform(-0.1, 0.1)) * cw
            cy = ry + side * (14 + h / 2 + float(rng.uniform(0, 0.15)) * cell_h)
            tags = {"building": "industrial"}
            if not named and rng.random() < 0.5:
                tags["name"] = "Keystone Steel Fabrication"
                named = True
            lay.area(rect(cx, cy, w, h), tags, "roof",
                     color=FLAT_ROOFS[int(rng.integers(len(FLAT_ROOFS)))],
                     height=float(rng.uniform(9, 14)), flat=True)
            px0 = cx + w / 2 + 6
            if px0 + 25 < x0 + 10 + cw * (c + 1):
                ys = sorted((ry + side * 10, ry + side * (10 + min(h, 50))))
                parking(lay, px0, ys[0], min(px0 + 40, x0 + 10 + cw * (c + 1) - 4), ys[1], False)


def field(lay, rng, x0, y0, x1, y1, crop=None):
    """A farmland field with crop rows in a random direction."""
    name, tone = crop or CROPS[int(rng.integers(len(CROPS)))]
    angle = float(rng.choice([0.0, 90.0]) + rng.uniform(-4, 4))
    lay.area(box(x0, y0, x1, y1), {"landuse": "farmland", "crop": name}, "farmland",
             color=tone, angle=angle, period=float(rng.uniform(3.0, 6.0)))


def farm_zone(lay, rng, x0, y0, x1, y1, road_x):
    """Fields in a grid, a farmyard with a farmhouse and barn hedged by a tree row."""
    ncol = 3 if x1 - x0 > 900 else 2
    gap = 8.0
    xs = np.linspace(x0, x1, ncol + 1)
    ys = np.linspace(y0, y1, 3)
    fw, fh = min(90.0, 0.4 * (xs[1] - xs[0])), min(70.0, 0.6 * (ys[1] - ys[0]))
    fx0, fy0 = x0 + 30, ys[1] - fh / 2
    order = rng.permutation(len(CROPS))
    for r in range(2):
        for c in range(ncol):
            cx0, cy0 = xs[c] + gap / 2, ys[r] + gap / 2
            cx1, cy1 = xs[c + 1] - gap / 2, ys[r + 1] - gap / 2
            if c == 0:
                cx0 = fx0 + fw + 12
            field(lay, rng, cx0, cy0, cx1, cy1, CROPS[order[(r * ncol + c) % len(CROPS)]])
            if r == 0 and c < ncol - 1:  # hedgerow between fields
                for ty in np.arange(cy0, cy1, 9.0):
                    lay.trees.append(Tree(cx1 + gap / 2 + float(rng.uniform(-1, 1)),
                                          float(ty + rng.uniform(-2, 2)), float(rng.uniform(2, 4))))
    fx1, fy1 = fx0 + fw, fy0 + fh
    lay.area(box(fx0, fy0, fx1, fy1), {"landuse": "farmyard"}, "farmyard")
    lay.area(box(fx0 - 5, fy0 - 5, fx1 + 5, fy1 + 5), {"natural": "tree_row"}, "tree_row")
    lay.area(rect(fx0 + 18, fy1 - 16, 14, 10), {"building": "house"}, "roof",
             color=HOUSE_ROOFS[0], height=8.0, gable=True)
    lay.area(rect(fx0 + fw * 0.6, fy0 + fh * 0.4, 32, 16), {"building": "yes"}, "roof",
             color=(150, 60, 50), height=10.0, gable=True)
    lay.line([(road_x, (fy0 + fy1) / 2), (fx0, (fy0 + fy1) / 2)],
             {"highway": "track", "tracktype": "grade2"}, "track")
