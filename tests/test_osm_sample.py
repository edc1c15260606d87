"""The bundled sample through our staging (the shared sample warehouse) versus pyosmium's
own assembler (rsteller_db.osm.crosscheck): equal counts per kind, and the total area
(areas) and length (lines) per kind within 0.1 %."""

from __future__ import annotations

import duckdb
import pytest

from rsteller_db.osm.crosscheck import assemble
from rsteller_db.warehouse import Warehouse, load_spatial


def measures(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[int, float]]:
    """kind -> (count, total area m2 for areas / length m for lines / 0 for points)."""
    rows = con.execute(f"""
        SELECT kind, count(*),
            sum(CASE kind WHEN 'area' THEN ST_Area_Spheroid(ST_FlipCoordinates(geom))
                          WHEN 'line' THEN ST_Length_Spheroid(ST_FlipCoordinates(geom))
                          ELSE 0 END)
        FROM {table} GROUP BY kind""").fetchall()
    return {kind: (n, total) for kind, n, total in rows}


def test_sample_matches_pyosmium(sample_files, sample_warehouse):
    with Warehouse(sample_warehouse, read_only=True) as wh:
        ours = measures(wh.con, "stg_osm__elements")
        ids = set(wh.con.execute("SELECT osm_type, osm_id FROM stg_osm__elements").fetchall())

    theirs_rows = assemble(sample_files.pbf)
    con = duckdb.connect()
    load_spatial(con)
    con.execute("CREATE TABLE theirs (kind VARCHAR, osm_type VARCHAR, osm_id BIGINT, wkb BLOB)")
    con.executemany("INSERT INTO theirs VALUES (?, ?, ?, ?)", theirs_rows)
    con.execute("CREATE TABLE theirs_geom AS SELECT kind, ST_GeomFromWKB(wkb) AS geom FROM theirs")
    theirs = measures(con, "theirs_geom")

    assert ids == {(t, i) for _, t, i, _ in theirs_rows}
    assert set(ours) == set(theirs) == {"area", "line", "point"}
    for kind in ours:
        assert ours[kind][0] == theirs[kind][0], kind
        assert ours[kind][1] == pytest.approx(theirs[kind][1], rel=1e-3, abs=1e-6), kind
    assert ours["area"][1] > 1e6  # the town has real areas to compare
