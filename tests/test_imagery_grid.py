"""The patch grid (int_patches_gridded): counts, exact windows, stable ids, overlaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagery_world import build_grid, grid, ingest_grid, open_wh, write_tif

from rsteller_db.imagery import LocalSource, ingest_naip, patch_id
from rsteller_db.imagery.naming import drop_draw
from rsteller_db.paths import sql_folder

A = "m_4107501_ne_18_060_20220815"
B = "m_4107501_nw_18_060_20220815"
Z17 = "m_4108163_nw_17_060_20210704"
FINE = "m_4107502_se_18_030_20221001"


def windows(width: int, height: int, size: int, stride: int) -> list[tuple[int, int, int, int]]:
    """(col, row, px_x, px_y) of every window of a full raster, row by row."""
    return [
        (c, r, c * stride, r * stride)
        for r in range((height - size) // stride + 1)
        for c in range((width - size) // stride + 1)
    ]


def ingest_build(tmp_path: Path, folder: Path, **settings):
    wh = open_wh(tmp_path / "wh" / "w.duckdb", **settings)
    ingest_grid(wh, LocalSource(folder), notices=True)
    return wh


def test_two_zones_and_a_fine_image_give_exact_windows(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{A}.tif", 2000, 1500)
    write_tif(d / f"{Z17}.tif", 1400, 1400, epsg=26917, x0=300000.0)
    write_tif(d / f"{FINE}.tif", 3000, 2800, gsd=0.3, x0=510000.0)
    with ingest_build(tmp_path, d) as wh:
        rows = grid(wh)
        geo = wh.con.execute(
            "select patch_id, epsg, ST_XMin(geom_native), ST_YMax(geom_native), "
            "ST_XMax(geom_native), ST_YMin(geom_native), ST_AsText(ST_Transform(geom_native, "
            "'EPSG:' || epsg, 'EPSG:4326', always_xy := true)) = ST_AsText(geom) "
            "from int_patches_gridded"
        ).fetchall()
    expected = []
    for name, w, h, size in ((A, 2000, 1500, 448), (FINE, 3000, 2800, 896), (Z17, 1400, 1400, 448)):
        expected += [
            (name, c, r, x, y, size, patch_id(name, x, y, size))
            for c, r, x, y in windows(w, h, size, 2 * size)
        ]
    assert rows == expected
    assert len(rows) == 4 + 4 + 4
    by_id = {g[0]: g[1:] for g in geo}
    fine = [r for r in rows if r[0] == FINE][3]  # col 1, row 1
    assert fine[3:6] == (1792, 1792, 896)
    assert by_id[fine[6]][:5] == pytest.approx(
        (
            26918,
            510000 + 1792 * 0.3,
            4500000 - 1792 * 0.3,
            510000 + 2688 * 0.3,
            4500000 - 2688 * 0.3,
        )
    )
    assert {g[1] for g in geo} == {26917, 26918}
    assert all(g[-1] for g in geo)


def test_sample_interval_one_and_window_sizes(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{A}.tif", 1400, 1000)
    with ingest_build(tmp_path, d, sample_interval=1) as wh:
        rows = grid(wh)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == windows(1400, 1000, 448, 448)
    assert len(rows) == 3 * 2


def test_windows_stay_inside_valid_data(tmp_path: Path):
    d = tmp_path / "naip"
    # 150 nodata columns on the left and 50 rows on top: windows at px 0 touch them
    write_tif(d / f"{A}.tif", 1400, 1400, nodata=0, blank_left=150, blank_top=50)
    with ingest_build(tmp_path, d, sample_interval=1) as wh:
        rows = grid(wh)
    assert [(r[3], r[4]) for r in rows] == [(448, 448), (896, 448), (448, 896), (896, 896)]


def test_patch_ids_stable_across_rebuild_and_new_images(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{A}.tif", 2000, 1500)
    with ingest_build(tmp_path, d) as wh:
        before = grid(wh)
        build_grid(wh, force=True)
        assert grid(wh) == before
        write_tif(d / f"{Z17}.tif", 1400, 1400, epsg=26917, x0=300000.0)
        ingest_naip(wh, LocalSource(d))
        build_grid(wh)
        after = grid(wh)
    assert set(before) < set(after)
    assert len(after) == len(before) + 4


def test_drop_fraction_is_seeded_and_documented(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{A}.tif", 2700, 2700)
    with ingest_build(tmp_path, d, sample_interval=1, drop_fraction=0.5, seed=7) as wh:
        kept = grid(wh)
    full = [patch_id(A, x, y, 448) for _, _, x, y in windows(2700, 2700, 448, 448)]
    assert [r[6] for r in kept] == [p for p in full if drop_draw(7, p) >= 0.5]
    assert 0.3 * len(full) < len(kept) < 0.7 * len(full)


def test_overlapping_images_keep_one_patch_per_place(tmp_path: Path):
    d = tmp_path / "naip"
    # A spans x 500000..500840, B starts 300 m before A ends (a quarter-quad buffer)
    write_tif(d / f"{A}.tif", 1400, 1344)
    write_tif(d / f"{B}.tif", 1400, 1344, x0=500540.0, seed=1)
    with ingest_build(tmp_path, d) as wh:
        rows = grid(wh)
        overlaps = wh.con.execute(
            "select count(*) from int_patches_gridded a join int_patches_gridded b "
            "on ST_Intersects(a.geom, b.geom) and a.image_name < b.image_name "
            "where ST_Area(ST_Intersection(a.geom, b.geom)) > 0"
        ).fetchone()[0]
    # A's column 1 (x 537.6..806.4 m) and B's column 0 (x 540..808.8 m) cover the same ground;
    # A's window lies nearer A's centre (252 m in x) than B's does to B's (285.6 m): A keeps it.
    assert overlaps == 0
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (A, 0, 0),
        (A, 1, 0),
        (A, 0, 1),
        (A, 1, 1),
        (B, 1, 0),
        (B, 1, 1),
    ]


def test_patch_id_matches_the_sql_function(warehouse):
    sql = (
        "select ('0x' || left(md5(? || ':' || ? || ':' || ? || ':' || ?), 13))::bigint, "
        "('0x' || left(md5('42:' || ?), 15))::bigint / 2 ^ 60"
    )
    for name, x, y, size in ((A, 0, 0, 448), (FINE, 1792, 896, 896), ("x", 10**6, 7, 1)):
        pid = patch_id(name, x, y, size)
        got = warehouse.con.execute(sql, [name, x, y, size, pid]).fetchone()
        assert got == (pid, pytest.approx(drop_draw(42, pid)))
        assert 0 <= pid < 2**53  # exact as a JSON double
        assert 0 <= pid < 2**60


def test_overlap_audit_flags_shared_ground_not_shared_edges(warehouse):
    warehouse.con.execute(
        "create table int_patches_gridded as select * from (values "
        "(1, 'a', ST_MakeEnvelope(0, 0, 1, 1)), (2, 'b', ST_MakeEnvelope(0.5, 0, 1.5, 1)), "
        "(3, 'c', ST_MakeEnvelope(1.5, 0, 2.5, 1))) t(patch_id, image_name, geom)"
    )
    sql = (sql_folder("audits") / "int_patches_gridded__no_cross_image_overlap.sql").read_text()
    assert warehouse.con.execute(sql).fetchall() == [(1, "a", 2, "b")]
