"""Full-history extracts: every version is kept with when it became current and when it was
replaced; before any image is ingested the staging sees the map as the file ends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import osmium
import pytest
from osm_support import osm_sql_dir
from osmium.osm.mutable import Node, Relation, Way

from rsteller_db import stages
from rsteller_db.errors import InputError
from rsteller_db.osm import ingest_osm
from rsteller_db.osm.write import write_pbf

T1, T2, T3 = (datetime(2021, 6, 1, tzinfo=UTC), datetime(2022, 3, 1, tzinfo=UTC),
              datetime(2022, 9, 1, tzinfo=UTC))
LON, LAT = -75.0, 41.0


def _square(first: int, x: float, y: float, side: float = 0.001):
    pts = [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    return [(first + i, LON + px, LAT + py) for i, (px, py) in enumerate(pts)]


def write_history(path: Path) -> Path:
    """A park deleted at T2, a building created at T2, a road re-tagged at T3, and a lake
    whose outer way is moved at T3 (its nodes replaced)."""
    header = osmium.io.Header()
    header.has_multiple_object_versions = True
    park, house, lake, moved = _square(1, 0, 0), _square(11, 0.002, 0), _square(21, 0.004, 0), \
        _square(31, 0.006, 0)
    road = [(41, LON, LAT + 0.003), (42, LON + 0.005, LAT + 0.003)]
    nodes = sorted(park + house + lake + moved + road)

    def node(i, x, y, version=1, t=T1, visible=True):
        return Node(id=i, version=version, visible=visible, timestamp=t, location=(x, y))

    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as w:
        for i, x, y in nodes:
            first = T2 if 11 <= i < 15 else T3 if 31 <= i < 35 else T1
            w.add_node(node(i, x, y, t=first))
        ring = lambda pts: [p[0] for p in pts] + [pts[0][0]]  # noqa: E731
        w.add_way(Way(id=1, version=1, timestamp=T1, nodes=ring(park), tags={"leisure": "park"}))
        w.add_way(Way(id=1, version=2, timestamp=T2, visible=False, nodes=[], tags={}))
        w.add_way(Way(id=2, version=1, timestamp=T2, nodes=ring(house),
                      tags={"building": "house"}))
        w.add_way(Way(id=3, version=1, timestamp=T1, nodes=ring(lake), tags={}))
        w.add_way(Way(id=3, version=2, timestamp=T3, nodes=ring(moved), tags={}))
        w.add_way(Way(id=4, version=1, timestamp=T1, nodes=[41, 42],
                      tags={"highway": "residential", "name": "Mill Road"}))
        w.add_way(Way(id=4, version=2, timestamp=T3, nodes=[41, 42],
                      tags={"highway": "tertiary", "name": "Mill Road"}))
        w.add_relation(Relation(id=1, version=1, timestamp=T1, members=[("w", 3, "outer")],
                                tags={"type": "multipolygon", "natural": "water"}))
    return path


def test_a_history_file_keeps_every_version(warehouse, tmp_path: Path):
    path = write_history(tmp_path / "town.osh.pbf")
    source = ingest_osm(warehouse, path)
    assert source.counts == {"node": 18, "way": 3, "relation": 1, "versions": 26}
    rows = warehouse.con.execute(
        "SELECT kind::VARCHAR, id, version, visible, valid_from, tags FROM raw.osm_history "
        "WHERE kind <> 'node' ORDER BY kind, id, version").fetchall()
    assert [r[:4] for r in rows] == [
        ("way", 1, 1, True), ("way", 1, 2, False), ("way", 2, 1, True), ("way", 3, 1, True),
        ("way", 3, 2, True), ("way", 4, 1, True), ("way", 4, 2, True), ("relation", 1, 1, True)]
    assert rows[6][4] == T3.replace(tzinfo=None) and rows[6][5]["highway"] == "tertiary"
    # the staging reads the latest visible versions: the map as the file ends
    stages.build(warehouse, sql_dir=osm_sql_dir(tmp_path))
    elements = dict(warehouse.con.execute(
        "SELECT element_id, tags FROM stg_osm__elements").fetchall())
    assert 12 not in elements  # the park was deleted
    assert elements[22] == {"building": "house"} and elements[42]["highway"] == "tertiary"
    lake = warehouse.con.execute(
        "SELECT ST_XMin(geom) FROM stg_osm__elements WHERE element_id = 13").fetchone()[0]
    assert abs(lake - (LON + 0.006)) < 1e-9  # the moved outer way


def test_a_plain_extract_loads_as_before(warehouse, tmp_path: Path):
    path = write_pbf(tmp_path / "plain.osm.pbf", nodes=[(1, LON, LAT, {"amenity": "bench"})])
    source = ingest_osm(warehouse, path)
    assert source.counts == {"node": 1, "way": 0, "relation": 0}
    assert warehouse.con.execute("SELECT count(*) FROM raw.osm_history").fetchone()[0] == 0
    details = warehouse.con.execute("SELECT details->>'history' FROM _meta.sources").fetchone()
    assert details[0] == "false"


def test_an_unsorted_history_file_is_refused(warehouse, tmp_path: Path):
    header = osmium.io.Header()
    header.has_multiple_object_versions = True
    path = tmp_path / "unsorted.osh.pbf"
    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as w:
        w.add_node(Node(id=2, version=1, timestamp=T1, location=(LON, LAT)))
        w.add_node(Node(id=1, version=1, timestamp=T1, location=(LON, LAT)))
    with pytest.raises(InputError, match="not sorted.*osmium sort"):
        ingest_osm(warehouse, path)
    assert warehouse.con.execute("SELECT count(*) FROM raw.osm_history").fetchone()[0] == 0
    assert warehouse.con.execute("SELECT count(*) FROM _meta.sources").fetchone()[0] == 0


def test_each_version_knows_when_it_was_replaced(warehouse, tmp_path: Path):
    ingest_osm(warehouse, write_history(tmp_path / "town.osh.pbf"))
    rows = warehouse.con.execute(
        "SELECT version, visible, valid_from, valid_until FROM raw.osm_history "
        "WHERE kind = 'way' AND id = 1 ORDER BY version").fetchall()
    naive = [t.replace(tzinfo=None) for t in (T1, T2)]
    assert rows == [(1, True, naive[0], naive[1]), (2, False, naive[1], None)]
