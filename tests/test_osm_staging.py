"""Staging geometry on a hand-made PBF whose answers are known (areas in m2 to 0.1 %)."""

from __future__ import annotations

import pytest
from osm_support import OsmWarehouse, PbfBuilder, square

from rsteller_db.osm import ingest_osm
from rsteller_db.paths import sql_folder

LAKE, SPLIT, TWO, OPEN, MISSING_WAY, NESTED, COUNTY = 1, 2, 3, 4, 5, 6, 9


def town() -> PbfBuilder:
    b = PbfBuilder()
    # a lake with an island: 100 x 100 minus 20 x 20
    outer = b.ring(10, square(0, 0, 100))
    island = b.ring(11, square(40, 40, 20))
    b.relation(LAKE, [("w", outer, "outer"), ("w", island, "inner")],
               {"type": "multipolygon", "natural": "water", "name": "Mill Pond"})
    # one outer ring split over two ways (one of them reversed)
    c = [b.node(x, y) for x, y in square(200, 0, 100)]
    b.way(20, [c[0], c[1], c[2]])
    b.way(21, [c[0], c[3], c[2]])
    b.relation(SPLIT, [("w", 20, "outer"), ("w", 21, "outer")],
               {"type": "multipolygon", "landuse": "forest"})
    # two outers in one relation: 50 x 50 twice
    b.ring(30, square(400, 0, 50))
    b.ring(31, square(500, 0, 50))
    b.relation(TWO, [("w", 30, "outer"), ("w", 31, "outer")],
               {"type": "multipolygon", "landuse": "meadow", "source": "survey"})
    # a ring that cannot be closed
    b.line(40, square(600, 0, 50))
    b.relation(OPEN, [("w", 40, "outer")], {"type": "multipolygon", "natural": "wetland"})
    # a member way the extract lacks
    b.ring(50, square(700, 0, 50))
    b.relation(MISSING_WAY, [("w", 50, "outer"), ("w", 5999, "outer")],
               {"type": "multipolygon", "natural": "scrub"})
    # island in a lake in a park: 200^2 - 100^2 + 50^2
    b.ring(60, square(0, 300, 200))
    b.ring(61, square(50, 350, 100))
    b.ring(62, square(75, 375, 50))
    b.relation(NESTED, [("w", 60, "outer"), ("w", 61, "inner"), ("w", 62, "outer")],
               {"type": "multipolygon", "leisure": "park"})
    # a street with a node cut off by the extract border, and a building missing a node
    a, z = b.node(0, -50), b.node(100, -50)
    b.way(70, [a, 999_999, z], {"highway": "residential", "name": "Main Street"})
    r = [b.node(x, y) for x, y in square(150, -60, 10)]
    b.way(71, [r[0], r[1], 999_998, r[3], r[0]], {"building": "yes"})
    # area rules on closed ways
    b.ring(80, square(300, 300, 40), {"natural": "tree_row"})
    b.ring(81, square(350, 300, 40), {"barrier": "hedge"})
    b.ring(82, square(400, 300, 40), {"barrier": "fence"})
    b.ring(83, square(450, 300, 40), {"highway": "pedestrian", "area": "yes"})
    b.ring(84, square(500, 300, 40), {"leisure": "park", "area": "no"})
    b.ring(85, square(550, 300, 40), {"building": "house", "addr:housenumber": "12"})
    # tag drop policy
    b.line(90, [(0, 600), (300, 600)], {
        "highway": "residential", "name": "Elm Street", "tiger:cfcc": "A41",
        "tiger:county": "Pike, PA", "name:fr": "Rue des Ormes", "source": "tiger_import",
        "brand:wikidata": "Q1", "ref": "CR 12"})
    b.line(91, [(0, 650), (300, 650)], {"tiger:reviewed": "no", "source": "bing"})
    # points
    b.node(10, 700, {"amenity": "bench"})
    b.node(20, 700, {"created_by": "JOSM"})
    b.node(30, 700)
    # an administrative boundary (relation) and a boundary closed way
    b.ring(95, [(-100, -100), (900, -100), (900, 900), (-100, 900)],
           {"boundary": "administrative", "admin_level": "8"})
    b.relation(COUNTY, [("w", 95, "outer"), ("n", 1, "admin_centre")],
               {"type": "boundary", "boundary": "administrative", "admin_level": "6",
                "name": "Pike County"})
    return b


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staging")
    pbf = town().write(tmp / "town.osm.pbf")
    w = OsmWarehouse(tmp)
    ingest_osm(w.wh, pbf)
    w.build()
    yield w
    w.close()


def element(w: OsmWarehouse, osm_type: str, osm_id: int):
    code = {"node": 1, "way": 2, "relation": 3}[osm_type]
    return w.one(
        "SELECT kind, ST_GeometryType(geom)::VARCHAR, ST_Area_Spheroid(ST_FlipCoordinates(geom)), "
        "tags, ST_NPoints(geom), ST_Length_Spheroid(ST_FlipCoordinates(geom)) "
        "FROM stg_osm__elements "
        "WHERE element_id = ? AND osm_type = ? AND osm_id = ?",
        [osm_id * 10 + code, osm_type, osm_id])


@pytest.mark.parametrize(("rel", "area_m2", "gtype"), [
    (LAKE, 100**2 - 20**2, "POLYGON"),
    (SPLIT, 100**2, "POLYGON"),
    (TWO, 2 * 50**2, "MULTIPOLYGON"),
    (NESTED, 200**2 - 100**2 + 50**2, "MULTIPOLYGON"),
])
def test_multipolygons_have_the_known_area(built, rel, area_m2, gtype):
    kind, geom_type, area, _, _, _ = element(built, "relation", rel)
    assert kind == "area"
    assert geom_type == gtype
    assert area == pytest.approx(area_m2, rel=1e-3)


def test_lake_keeps_its_island_as_a_hole(built):
    holes = built.one("SELECT ST_NumInteriorRings(geom) FROM stg_osm__elements "
                      "WHERE element_id = ?", [LAKE * 10 + 3])[0]
    assert holes == 1


def test_relation_tags_lose_type_and_dropped_keys(built):
    assert element(built, "relation", LAKE)[3] == {"natural": "water", "name": "Mill Pond"}
    assert element(built, "relation", TWO)[3] == {"landuse": "meadow"}


def test_problems_are_reported_with_counts(built):
    rows = built.rows("SELECT osm_type, osm_id, problem, has_element FROM stg_osm__problems "
                      "ORDER BY osm_type, osm_id")
    assert rows == [
        ("relation", OPEN, "unclosed_ring", False),
        ("relation", MISSING_WAY, "missing_member_ways", False),
        ("way", 70, "missing_nodes", True),
        ("way", 71, "missing_nodes", False),
    ]
    assert element(built, "relation", OPEN) is None
    assert element(built, "relation", MISSING_WAY) is None


def test_line_with_a_missing_node_keeps_the_nodes_present(built):
    kind, geom_type, _, tags, npoints, length = element(built, "way", 70)
    assert (kind, geom_type, npoints) == ("line", "LINESTRING", 2)
    assert length == pytest.approx(100, rel=1e-3)
    assert tags == {"highway": "residential", "name": "Main Street"}
    assert element(built, "way", 71) is None  # an area cannot be drawn with a node missing


@pytest.mark.parametrize(("way", "kind"), [
    (80, "line"),   # natural=tree_row is an exception of natural
    (81, "area"),   # barrier=hedge is one of the barrier values that make areas
    (82, "line"),   # barrier=fence is not
    (83, "area"),   # area=yes
    (84, "line"),   # area=no wins over leisure=park
    (85, "area"),   # building
])
def test_area_rules_on_closed_ways(built, way, kind):
    got = element(built, "way", way)
    assert got[0] == kind
    assert got[1] == ("POLYGON" if kind == "area" else "LINESTRING")
    if kind == "area":
        assert got[2] == pytest.approx(40 * 40, rel=1e-3)


def test_tag_drop_policy(built):
    assert element(built, "way", 90)[3] == {
        "highway": "residential", "name": "Elm Street", "tiger:county": "Pike, PA"}
    assert element(built, "way", 85)[3] == {"building": "house"}
    assert element(built, "way", 91) is None  # nothing left after the drop


def test_points_are_tagged_nodes_only(built):
    rows = built.rows("SELECT tags FROM stg_osm__elements WHERE kind = 'point'")
    assert rows == [({"amenity": "bench"},)]


def test_boundaries_are_kept_apart(built):
    rows = built.rows("SELECT osm_type, osm_id, name, admin_level, tags['type'], "
                      "round(ST_Area_Spheroid(ST_FlipCoordinates(geom)) / 1e6, 3) "
                      "FROM stg_osm__boundaries ORDER BY element_id")
    assert rows == [("relation", COUNTY, "Pike County", 6, "boundary", 1.0),
                    ("way", 95, None, 8, None, 1.0)]
    assert built.one("SELECT count(*) FROM stg_osm__elements WHERE osm_id IN (95, ?) "
                     "AND osm_type <> 'node'", [COUNTY])[0] == 0


def test_element_id_encodes_type_and_id(built):
    bad = built.rows("SELECT element_id FROM stg_osm__elements WHERE element_id <> osm_id * 10 + "
                     "CASE osm_type WHEN 'node' THEN 1 WHEN 'way' THEN 2 ELSE 3 END")
    assert bad == []
    assert built.one("SELECT count(*) - count(DISTINCT element_id) FROM stg_osm__elements")[0] == 0


def test_a_second_build_is_a_no_op(built):
    result = built.build()
    assert result.built == []


def test_empty_warehouse_builds_empty_tables(tmp_path):
    w = OsmWarehouse(tmp_path)
    try:
        w.build()
        for table in ("stg_osm__elements", "stg_osm__boundaries", "stg_osm__problems"):
            assert w.one(f"SELECT count(*) FROM {table}")[0] == 0
    finally:
        w.close()


AUDITS = sorted(sql_folder("audits").glob("stg_osm__*.sql"))


@pytest.mark.parametrize("audit", AUDITS, ids=[a.stem for a in AUDITS])
def test_audits_find_nothing_on_good_data(built, audit):
    assert built.rows(audit.read_text()) == []


def test_audits_catch_a_bad_row(built):
    built.wh.con.execute("BEGIN")
    try:
        built.wh.con.execute("INSERT INTO stg_osm__elements SELECT element_id, osm_type, osm_id, "
                             "'point', MAP {}, geom, osm_from, osm_until FROM stg_osm__elements "
                             "WHERE kind = 'area' LIMIT 1")
        caught = {a.stem for a in AUDITS if built.rows(a.read_text())}
    finally:
        built.wh.con.execute("ROLLBACK")
    assert caught == {"stg_osm__elements__geometry_matches_kind", "stg_osm__elements__has_tags",
                      "stg_osm__elements__unique_element_id"}
