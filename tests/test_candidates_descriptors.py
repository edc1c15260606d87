"""Descriptors of areas, lines and points with known answers, on geometries written to a PBF
and built by the real stages (candidates_world)."""

from __future__ import annotations

import math

import pytest
from candidates_world import SIDE_M, World

# One case per patch, patches 1 km apart so no element reaches a neighbour.
CASES = {
    "square": 1,
    "circle": 2,
    "l_shape": 3,
    "road": 4,
    "river": 5,
    "forest": 6,
    "points": 7,
    "bowtie": 8,
    "two_parts": 9,
    "loop": 10,
    "twisty": 11,
    "empty": 12,
    "around": 13,
}


def _circle(cx: float, cy: float, r: float, n: int = 64) -> str:
    pts = [
        (cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
        for i in range(n)
    ]
    pts.append(pts[0])
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in pts) + "))"


# name -> (kind, tags, WKT in the unit square of the patch, patch); nodes and relations named
# in OSM_TYPES, the rest are ways
ELEMENTS = {
    "square": ("area", {"building": "yes"}, "POLYGON((0 0.5, 0.5 0.5, 0.5 1, 0 1, 0 0.5))", 1),
    "circle": ("area", {"leisure": "pitch"}, _circle(0.5, 0.5, 0.3), 2),
    "l_shape": ("area", {"building": "school"},
                "POLYGON((0.2 0.2, 0.8 0.2, 0.8 0.4, 0.4 0.4, 0.4 0.8, 0.2 0.8, 0.2 0.2))", 3),
    "road": ("line", {"highway": "primary", "name": "Main Street"},
             "LINESTRING(-0.3 0.5, 1.4 0.5)", 4),
    "river": ("line", {"waterway": "river"},
              "LINESTRING(-0.2 -0.1, 0.3 0.35, 0.55 0.5, 0.8 0.8, 1.2 1.1)", 5),
    "forest": ("area", {"landuse": "forest"}, "POLYGON((-1 -1, 2 -1, 2 2, -1 2, -1 -1))", 6),
    "cafe": ("point", {"amenity": "cafe", "name": "Corner Cafe"}, "POINT(0.9 0.1)", 7),
    "bowtie": ("area", {"landuse": "grass"},
               "POLYGON((0.1 0.1, 0.9 0.9, 0.9 0.1, 0.1 0.9, 0.1 0.1))", 8),
    "flat": ("area", {"landuse": "grass"}, "POLYGON((0.1 0.1, 0.5 0.5, 0.1 0.1, 0.1 0.1))", 8),
    "two_parts": ("area", {"landuse": "farmland"},
                  "MULTIPOLYGON(((0.05 0.05, 0.3 0.05, 0.3 0.3, 0.05 0.3, 0.05 0.05)),"
                  "((0.6 0.6, 0.95 0.6, 0.95 0.95, 0.6 0.95, 0.6 0.6)))", 9),
    "loop": ("line", {"highway": "footway"},
             "LINESTRING(0.3 0.3, 0.7 0.3, 0.7 0.7, 0.3 0.7, 0.3 0.3)", 10),
    "twisty": ("line", {"highway": "path"},
               "LINESTRING(0.1 0.5, 0.2 0.9, 0.3 0.1, 0.4 0.9, 0.5 0.1, 0.6 0.9, 0.7 0.5)", 11),
    # a building next door whose corner pokes 3 cm into the view: 0.27 m2, under a pixel
    "sliver": ("area", {"building": "house"},
               "POLYGON((-0.2 0.5, 0.0001 0.5, 0.0001 0.537, -0.2 0.537, -0.2 0.5))", 12),
    # boxes that overlap patch 13 while the shapes pass around it, outside the view
    "ring_road": ("line", {"highway": "tertiary"}, "LINESTRING(-0.3 -0.3, -0.3 1.3, 1.3 1.3)", 13),
    "hook_field": ("area", {"landuse": "meadow"},
                   "POLYGON((-0.5 -0.5, -0.1 -0.5, -0.1 1.1, 1.5 1.1, 1.5 1.5, -0.5 1.5, "
                   "-0.5 -0.5))", 13),
    # a shed built against patch 13's right edge, outside it: it only touches the patch
    # (after the EPSG:4326 round trip its wall may lie a nanometre inside or outside)
    "shed_outside": ("area", {"building": "shed"},
                     "POLYGON((1 0.2, 1.2 0.2, 1.2 0.4, 1 0.4, 1 0.2))", 13),
}
OSM_TYPES = {"cafe": "node", "two_parts": "relation"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("descriptors"))
    w.add_image()
    for pid in CASES.values():
        w.add_patch(pid, x0=480000.0 + 1000.0 * pid, y0=4540800.0)
    w.ids = {
        name: w.add_element(kind, tags, wkt, patch_id=pid, osm_type=OSM_TYPES.get(name, "way"))
        for name, (kind, tags, wkt, pid) in ELEMENTS.items()
    }
    w.build()
    yield w
    w.close()


def _area(w: World, name: str) -> dict:
    return w.rows("from int_patch_areas_described where element_id = ?", [w.ids[name]])[0]


def _line(w: World, name: str) -> dict:
    return w.rows("from int_patch_lines_described where element_id = ?", [w.ids[name]])[0]


def test_square_in_the_top_left_quarter(world):
    row = _area(world, "square")
    assert row["positions"] == ["top-left"]
    assert row["area_norm"] == pytest.approx(0.25)
    assert row["shape"] == "rectangular"
    assert row["is_clipped"] is False
    # OSM stores coordinates to 1e-7 degrees (about 1 cm): the corners move by up to 0.5 cm
    assert row["area_m2"] == pytest.approx((SIDE_M / 2) ** 2, abs=1.5)


def test_circle_is_circular(world):
    row = _area(world, "circle")
    assert row["shape"] == "circular"
    assert row["positions"] == ["center"]
    assert row["area_norm"] == pytest.approx(math.pi * 0.09, abs=0.005)


def test_l_shape_is_irregular_not_rectangular(world):
    row = _area(world, "l_shape")
    assert row["shape"] == "irregular"
    assert row["area_norm"] == pytest.approx(0.2, abs=0.001)


def test_multipolygon_lists_each_part_position(world):
    row = _area(world, "two_parts")
    assert row["shape"] == "multi-polygonal"
    assert row["n_parts"] == 2
    assert row["positions"] == ["top-right", "bottom-left"]  # largest part first


def test_forest_beyond_the_patch_is_clipped(world):
    row = _area(world, "forest")
    assert row["is_clipped"] is True
    assert row["area_norm"] == pytest.approx(1.0)
    assert row["positions"] == ["center"]
    assert row["shape"] == "rectangular"


def test_straight_road_across_the_patch(world):
    row = _line(world, "road")
    assert (row["start_position"], row["start_edge"]) == ("center-left", "left")
    assert (row["end_position"], row["end_edge"]) == ("center-right", "right")
    assert row["sinuosity"] == "straight"
    assert row["orientation"] == "east-west"
    assert row["length_m"] == pytest.approx(268.8, abs=0.05)
    assert row["length_norm"] == pytest.approx(1.0)
    assert row["is_clipped"] is True


def test_diagonal_river_runs_southwest_northeast(world):
    row = _line(world, "river")
    assert row["orientation"] == "southwest-northeast"
    assert row["sinuosity"] == "curved"
    assert row["start_edge"] == "left" and row["start_position"] == "bottom-left"
    assert row["end_edge"] == "right" and row["end_position"] == "top-right"


def test_closed_and_twisted_lines_have_no_orientation(world):
    loop = _line(world, "loop")
    assert (loop["sinuosity"], loop["orientation"]) == ("closed", "none")
    assert loop["is_clipped"] is False and loop["start_edge"] is None
    twisty = _line(world, "twisty")
    assert (twisty["sinuosity"], twisty["orientation"]) == ("twisted", "none")


def test_point_position_and_name(world):
    rows = world.rows("from int_patch_points_described where element_id = ?", [world.ids["cafe"]])
    assert [(r["position"], r["name"]) for r in rows] == [("bottom-right", "Corner Cafe")]


def test_invalid_polygons_are_repaired_or_skipped_with_a_count(world):
    status = dict(
        world.con.execute(
            "select element_id, geometry_status from int_elements_validated"
        ).fetchall()
    )
    assert status[world.ids["bowtie"]] == "repaired"
    assert status[world.ids["flat"]] == "skipped"
    counts = dict(
        world.con.execute(
            "select geometry_status, count(*) from int_elements_validated group by all"
        ).fetchall()
    )
    assert counts["repaired"] == 1 and counts["skipped"] == 1
    bowtie = _area(world, "bowtie")
    assert bowtie["shape"] == "multi-polygonal"  # the bow tie becomes two triangles
    assert bowtie["area_norm"] == pytest.approx(0.32, abs=0.001)
    skipped = world.rows("from int_patch_elements_joined where element_id = ?", [world.ids["flat"]])
    assert skipped == []


def test_elements_whose_boxes_overlap_but_shapes_miss_or_touch_are_not_joined(world):
    # the pairing is a bounding-box join; the exact test comes before the clip
    boxes = world.rows(
        "select e.element_id from int_patches_gridded as p join int_elements_validated as e "
        "on p.geom && e.geom where p.patch_id = ? order by 1", [world.pid(13)])
    names = ["ring_road", "hook_field", "shed_outside"]
    assert [r["element_id"] for r in boxes] == sorted(world.ids[n] for n in names)
    assert world.rows("from int_patch_elements_joined where patch_id = ?", [world.pid(13)]) == []


def test_patch_without_elements_is_skipped_with_a_reason(world):
    row = world.rows("from int_patches_selected where patch_id = ?",
                     [world.pid(CASES["empty"])])[0]
    assert row["is_candidate"] is False and row["task"] is None
    assert row["skip_reason"] == "no area or line element in the view"
    sliver = world.ids["sliver"]
    assert world.rows("from int_patch_elements_joined where element_id = ?", [sliver]) != []
    assert world.rows("from int_patch_areas_described where element_id = ?", [sliver]) == []
    only_point = world.rows("from int_patches_selected where patch_id = ?",
                            [world.pid(CASES["points"])])[0]
    assert only_point["n_points"] == 1 and only_point["skip_reason"] is not None
    assert (
        world.rows(
            "from caption_requests where patch_id in (?, ?)",
            [world.pid(CASES["empty"]), world.pid(CASES["points"])],
        )
        == []
    )


def test_metres_are_right_near_a_utm_zone_edge(tmp_path):
    """A 100 m square at 72.02 W, 0.02 degrees inside UTM zone 18's eastern edge."""
    w = World(tmp_path)
    w.add_image()
    lon, lat = -72.02, 41.3
    dlat = 100.0 / 111_090.0
    dlon = 100.0 / (111_320.0 * math.cos(math.radians(lat)))
    ring = [(lon, lat), (lon + dlon, lat), (lon + dlon, lat + dlat), (lon, lat + dlat), (lon, lat)]
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    edge = f"LINESTRING({lon} {lat - dlat}, {lon + dlon} {lat - dlat})"
    x, y = w.con.execute(
        "select ST_X(p), ST_Y(p) from (select ST_Transform(ST_Point(?, ?), 'EPSG:4326', "
        "'EPSG:26918', always_xy := true) as p)",
        [lon + dlon / 2, lat],
    ).fetchone()
    w.add_patch(1, x0=x - SIDE_M / 2, y0=y - SIDE_M / 2)
    square = w.add_element_lonlat("area", {"building": "warehouse"}, wkt)
    road = w.add_element_lonlat("line", {"highway": "service"}, edge)
    w.build()
    true_area, true_length = w.con.execute(
        "select ST_Area_Spheroid(ST_FlipCoordinates(ST_GeomFromText(?))), "
        "ST_Length_Spheroid(ST_FlipCoordinates(ST_GeomFromText(?)))",
        [wkt, edge],
    ).fetchone()
    area = w.rows("from int_patch_areas_described where element_id = ?", [square])[0]
    line = w.rows("from int_patch_lines_described where element_id = ?", [road])[0]
    assert true_area == pytest.approx(10_000, rel=0.01)  # the square is a 100 m square
    assert area["area_m2"] == pytest.approx(true_area, rel=0.005)
    assert line["length_m"] == pytest.approx(true_length, rel=0.005)
    w.close()
