"""Tests of the bundled synthetic sample town (OSM PBF + NAIP-like GeoTIFF)."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform, transform_bounds

from rsteller_db.sample import SampleFiles, generate_sample
from rsteller_db.sample.geo import lonlat_to_utm, utm_to_lonlat
from rsteller_db.sample.town import ORIGIN, build_layout
from rsteller_db.warehouse import spatial_connect

SMALL = 1000.0


def _connect() -> duckdb.DuckDBPyConnection:
    return spatial_connect()


@pytest.fixture(scope="session")
def town_default(sample_files) -> SampleFiles:
    return sample_files  # generate_sample(folder) with the defaults, once per session (conftest)


@pytest.fixture(scope="session")
def town_small_runs(tmp_path_factory) -> dict[str, tuple[SampleFiles, bytes, bytes]]:
    """Three small towns: seed 0 twice in two folders, then seed 1 over the first."""
    runs = {}
    first, second = tmp_path_factory.mktemp("small_a"), tmp_path_factory.mktemp("small_b")
    for name, folder, seed in (("a", first, 0), ("b", second, 0), ("c", first, 1)):
        files = generate_sample(folder, seed=seed, size_m=SMALL)
        runs[name] = (files, files.pbf.read_bytes(), files.raster.read_bytes())
    return runs


@pytest.fixture(scope="session")
def osm_rows(town_default):
    files = town_default
    con = _connect()
    con.execute(f"CREATE TABLE osm AS SELECT * FROM ST_ReadOSM('{files.pbf}')")
    yield con
    con.close()


def test_same_seed_is_byte_identical(town_small_runs):
    (a, a_pbf, a_tif), (b, b_pbf, b_tif) = town_small_runs["a"], town_small_runs["b"]
    assert a_pbf == b_pbf
    assert a_tif == b_tif
    assert a.counts == b.counts and a.bounds_lonlat == b.bounds_lonlat


def test_other_seed_differs_and_overwrites(town_small_runs):
    (a, a_pbf, a_tif), (c, c_pbf, c_tif) = town_small_runs["a"], town_small_runs["c"]
    assert (c.pbf, c.raster) == (a.pbf, a.raster)  # same folder: files replaced
    assert c_pbf != a_pbf and c_tif != a_tif
    la, lc = build_layout(0, SMALL), build_layout(1, SMALL)
    assert [w.coords for w in la.ways] != [w.coords for w in lc.ways]


def test_size_too_small_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate_sample(tmp_path, size_m=100)


def test_town_default_api(town_default):
    files = town_default
    assert files.pbf.name == "town.osm.pbf"
    assert re.fullmatch(r"m_\d{7}_(ne|nw|se|sw)_18_060_\d{8}\.tif", files.raster.name)
    assert files.epsg == 26918
    minlon, minlat, maxlon, maxlat = files.bounds_lonlat
    assert 40.9 < minlat < maxlat < 41.1 and -75.3 < minlon < maxlon < -75.1
    f = files.features
    assert 30 <= f["building"] <= 800
    for key in ("highway=primary", "highway=secondary", "highway=residential",
                "highway=service", "highway=footway", "railway=rail", "waterway=river",
                "landuse=residential", "landuse=commercial", "landuse=industrial",
                "landuse=farmland", "landuse=forest", "natural=wood", "leisure=park",
                "amenity=parking", "amenity=school", "natural=tree_row",
                "relation:multipolygon", "relation:boundary"):
        assert f.get(key, 0) >= 1, key


def test_pbf_element_counts(town_default, osm_rows):
    files = town_default
    got = dict(osm_rows.execute("SELECT kind::VARCHAR, count(*) FROM osm GROUP BY ALL").fetchall())
    assert got == files.counts
    ext = osm_rows.execute(
        "SELECT min(lon), min(lat), max(lon), max(lat) FROM osm WHERE kind = 'node'").fetchone()
    assert ext == pytest.approx(files.bounds_lonlat, abs=1e-7)


def test_pbf_lake_multipolygon(osm_rows):
    rels = osm_rows.execute(
        "SELECT tags, refs, ref_roles, ref_types::VARCHAR[] FROM osm "
        "WHERE kind = 'relation' AND tags['type'] = 'multipolygon'").fetchall()
    assert len(rels) == 1
    tags, refs, roles, types = rels[0]
    assert sorted(roles) == ["inner", "outer", "outer"]
    assert set(types) == {"way"}
    assert tags["natural"] == "water" and tags["water"] == "lake" and tags["name"]
    sql = "SELECT refs, coalesce(cardinality(tags), 0) FROM osm WHERE kind = 'way' AND id = ?"
    members = {r: osm_rows.execute(sql, [r]).fetchone() for r in refs}
    assert all(n_tags == 0 for _, n_tags in members.values())  # member ways are untagged
    outer = [members[r][0] for r, role in zip(refs, roles, strict=True) if role == "outer"]
    inner = [members[r][0] for r, role in zip(refs, roles, strict=True) if role == "inner"]
    assert outer[0][0] != outer[0][-1]  # each half is open ...
    assert {outer[0][0], outer[0][-1]} == {outer[1][0], outer[1][-1]}  # ... sharing both ends
    assert inner[0][0] == inner[0][-1]


def test_pbf_tags(osm_rows):
    def count(where: str) -> int:
        return osm_rows.execute(f"SELECT count(*) FROM osm WHERE {where}").fetchone()[0]

    tree_rows = osm_rows.execute(
        "SELECT refs FROM osm WHERE kind = 'way' AND tags['natural'] = 'tree_row'").fetchall()
    assert tree_rows and all(r[0][0] == r[0][-1] for r in tree_rows)
    assert count("kind = 'way' AND tags['highway'] = 'primary' AND tags['name'] = 'Main Street'")
    assert count("kind = 'way' AND tags['tiger:cfcc'] IS NOT NULL AND tags['source'] IS NOT NULL")
    assert count("kind = 'way' AND tags['railway'] = 'rail' AND tags['name'] IS NOT NULL")
    assert count("kind = 'way' AND tags['waterway'] = 'river' AND tags['name'] IS NOT NULL") == 1
    assert count("kind = 'way' AND tags['building'] IS NOT NULL AND tags['name'] IS NOT NULL") >= 3
    assert count("kind = 'way' AND tags['leisure'] = 'park' AND tags['name'] IS NOT NULL") == 1
    assert count("kind = 'way' AND tags['amenity'] = 'school' AND tags['name'] IS NOT NULL") == 1
    for key, value in (("amenity", "cafe"), ("shop", "supermarket"),
                       ("amenity", "place_of_worship"), ("place", "town")):
        assert count(f"kind = 'node' AND tags['{key}'] = '{value}' AND tags['name'] IS NOT NULL")
    # every way refers to nodes in the file, and streets meet at shared nodes
    missing = osm_rows.execute(
        "SELECT count(*) FROM (SELECT unnest(refs) AS r FROM osm WHERE kind = 'way') w "
        "ANTI JOIN (SELECT id FROM osm WHERE kind = 'node') n ON w.r = n.id").fetchone()[0]
    assert missing == 0
    shared = osm_rows.execute(
        "SELECT count(*) FROM (SELECT unnest(refs) AS r FROM osm WHERE kind = 'way' "
        "AND tags['highway'] IS NOT NULL) GROUP BY r HAVING count(*) > 1").fetchall()
    assert len(shared) >= 10  # streets meet at shared junction nodes


def test_raster_georeferencing(town_default):
    files = town_default
    with rasterio.open(files.raster) as src:
        assert src.count == 3 and src.dtypes == ("uint8",) * 3
        assert src.res == (0.6, 0.6)
        assert src.transform.b == 0 and src.transform.d == 0  # north-up
        assert src.crs.to_epsg() == 26918
        assert src.block_shapes == [(512, 512)] * 3
        assert src.compression is not None
        assert "TIFFTAG_DATETIME" not in src.tags()
        assert (src.bounds.left - ORIGIN[0]) / 0.6 == pytest.approx(
            round((src.bounds.left - ORIGIN[0]) / 0.6), abs=1e-6)
        assert src.bounds.left <= ORIGIN[0] - 60 and src.bounds.bottom <= ORIGIN[1] - 60
        assert src.bounds.right >= ORIGIN[0] + 3260 and src.bounds.top >= ORIGIN[1] + 3260
        west, south, east, north = transform_bounds(src.crs, "EPSG:4269", *src.bounds)
        minlon, minlat, maxlon, maxlat = files.bounds_lonlat
        assert west < minlon and south < minlat and east > maxlon and north > maxlat
        # the image shows the map: the lake is water, the forest is dark green
        layout = build_layout(0)
        for (x, y), check in (((0.33 * layout.size, 0.80 * layout.size + 0.02 * layout.size),
                               lambda r, g, b: b > r and r < 80),
                              ((0.95 * layout.size, 0.90 * layout.size),
                               lambda r, g, b: g > r and g > b and g < 140)):
            row, col = src.index(ORIGIN[0] + x, ORIGIN[1] + y)
            win = src.read(window=((row - 3, row + 4), (col - 3, col + 4)))
            r, g, b = (float(v) for v in win.reshape(3, -1).mean(axis=1))
            assert check(r, g, b), (x, y, r, g, b)


def test_projection_agrees_with_gdal():

    xs = [ORIGIN[0] + d for d in (0.0, 1234.5, 3200.0)]
    ys = [ORIGIN[1] + d for d in (0.0, 2345.6, 3200.0)]
    lon, lat = utm_to_lonlat(np.array(xs), np.array(ys))
    glon, glat = transform("EPSG:26918", "EPSG:4269", xs, ys)
    assert np.allclose(lon, glon, atol=1e-8) and np.allclose(lat, glat, atol=1e-8)
    ex, ny = lonlat_to_utm(lon, lat)
    assert np.allclose(ex, xs, atol=1e-3) and np.allclose(ny, ys, atol=1e-3)
