"""ingest naip: local rasters and footprint indexes into raw.naip_images / stg_naip__images."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from imagery_world import ingest_grid, naip_cli, open_wh, staged_images, write_tif
from pyproj import Transformer
from shapely import wkt

from rsteller_db.errors import InputError
from rsteller_db.imagery import IndexSource, LocalSource, ingest_naip, parse_naip_name
from rsteller_db.imagery.rasters import FOOTPRINT_CELL_PX

NE18 = "m_4107501_ne_18_060_20220815"
NW17 = "m_4108163_nw_17_060_20210704"
SE18_30 = "m_4107502_se_18_030_20221001"


def test_parse_naip_name():
    n = parse_naip_name("m_4107501_ne_18_060_20221108")
    assert (n.block, n.quad, n.quarter, n.utm_zone, n.resolution_m, n.acquired_on, n.epsg) == (
        "41075",
        "01",
        "ne",
        18,
        0.6,
        date(2022, 11, 8),
        26918,
    )
    assert parse_naip_name("m_4107501_ne_18_030_20221108_20230105").resolution_m == 0.3
    assert parse_naip_name("m_4107501_ne_18_060_20221340") is None  # month 13
    assert parse_naip_name("orthophoto_2022") is None


# name, subfolder, width, height, gsd, EPSG, x0 (all top at y 4500000), and the acquisition
# date the ingest must find: in the NAIP name, or for "plain" in its TIFF date tag
RASTERS = [
    (NE18, "", 1000, 900, 0.6, 26918, 500000.0, date(2022, 8, 15)),
    (NW17, "zone17", 700, 600, 0.6, 26917, 300000.0, date(2021, 7, 4)),
    (SE18_30, "", 1200, 1000, 0.3, 26918, 510000.0, date(2022, 10, 1)),
    ("plain", "", 500, 500, 0.6, 26918, 520000.0, date(2022, 7, 1)),
]
TOP = 4500000.0


@pytest.fixture
def rasters(tmp_path: Path) -> Path:
    d = tmp_path / "naip"
    for name, sub, width, height, gsd, epsg, x0, _ in RASTERS:
        tags = {"TIFFTAG_DATETIME": "2022:07:01 10:00:00"} if name == "plain" else None
        write_tif(d / sub / f"{name}.tif", width, height, gsd=gsd, epsg=epsg, x0=x0, y0=TOP,
                  tags=tags)
    return d


def test_local_source_reads_headers_dates_and_zones(tmp_path: Path, rasters: Path):
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        ingest_grid(wh, LocalSource(rasters))
        rows = staged_images(wh)
    assert rows == [
        (name, day, epsg, gsd, w, h, [x0, TOP - h * gsd, x0 + w * gsd, TOP], "local")
        for name, _, w, h, gsd, epsg, x0, day in sorted(RASTERS)
    ]


def test_footprint_excludes_nodata_edges(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{NE18}.tif", 800, 640, nodata=0, blank_left=100, blank_top=37)
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        ingest_naip(wh, LocalSource(d))
        text, crs = wh.con.execute(
            "select ST_AsText(footprint), footprint_crs from raw.naip_images"
        ).fetchone()
    assert crs == "EPSG:26918"
    minx, miny, maxx, maxy = wkt.loads(text).bounds
    # conservative: the first fully valid cell column/row of FOOTPRINT_CELL_PX pixels
    first_col = -(-100 // FOOTPRINT_CELL_PX) * FOOTPRINT_CELL_PX
    first_row = -(-37 // FOOTPRINT_CELL_PX) * FOOTPRINT_CELL_PX
    assert minx == pytest.approx(500000 + first_col * 0.6)
    assert maxy == pytest.approx(4500000 - first_row * 0.6)
    assert (maxx, miny) == pytest.approx((500000 + 800 * 0.6, 4500000 - 640 * 0.6))


def test_bad_rasters_fail_by_name_and_the_rest_ingest(tmp_path: Path, cli):
    d = tmp_path / "naip"
    write_tif(d / f"{NE18}.tif", 600, 600)
    write_tif(d / "nocrs.tif", 500, 500, epsg=None)
    write_tif(d / "twoband.tif", 500, 500, bands=2)
    write_tif(d / "whole.tif", 600, 600, seed=3)
    blob = (d / "whole.tif").read_bytes()
    (d / "truncated.tif").write_bytes(blob[: len(blob) // 2])
    (d / "whole.tif").unlink()
    (d / "notatiff.tif").write_text("hello")
    wh = str(tmp_path / "w.duckdb")
    result = naip_cli(cli, wh, "local", str(d), quiet=True)
    assert result.exit_code == 1
    assert "ingested 1 image(s), 4 failed" in result.output
    assert f"failed: {d / 'nocrs.tif'}: has no CRS" in result.output
    assert (
        f"failed: {d / 'twoband.tif'}: has 2 band(s); 3 (red, green, blue) are needed"
        in result.output
    )
    assert f"failed: {d / 'truncated.tif'}: cannot read it" in result.output
    assert f"failed: {d / 'notatiff.tif'}: cannot read it" in result.output
    assert "Error: 4 of 5 input(s) failed to ingest" in result.output
    query = cli("-w", wh, "query", "--format", "csv", "select image_name from raw.naip_images")
    assert query.output == f"image_name\n{NE18}\n"


def test_missing_date_is_a_warning_not_a_failure(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / "undated.tif", 500, 500)
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        result = ingest_naip(wh, LocalSource(d))
        assert [str(n) for n in result.notices] == [
            f"{d / 'undated.tif'}: no acquisition date (not a NAIP name, no TIFF date tag)"
        ]
        assert wh.con.execute("select acquired_on from raw.naip_images").fetchone() == (None,)


def test_reingest_same_set_records_one_source(tmp_path: Path, rasters: Path):
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        first = ingest_naip(wh, LocalSource(rasters))
        second = ingest_naip(wh, LocalSource(rasters))
        assert first.source_id is not None and second.unchanged
        write_tif(rasters / "m_4107501_nw_18_060_20220815.tif", 500, 500, x0=499700.0)
        third = ingest_naip(wh, LocalSource(rasters))
        sources = wh.con.execute(
            "select kind, name, details->>'images' from _meta.sources order by source_id"
        ).fetchall()
        assert not third.unchanged
        assert sources == [("naip", "naip", "4"), ("naip", "naip", "5")]
        assert wh.con.execute("select count(*) from raw.naip_images").fetchone()[0] == 5


def _geojson_index(path: Path, rows: list[dict]) -> None:
    features = [{"type": "Feature", "properties": props, "geometry": geom} for props, geom in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def test_index_source_uses_mapped_columns_and_its_footprints(tmp_path: Path):
    write_tif(tmp_path / "tiles" / "a.tif", 600, 600)
    fp = {
        "type": "Polygon",
        "coordinates": [
            [
                [-75.0, 40.648],
                [-74.995, 40.648],
                [-74.995, 40.6508],
                [-75.0, 40.6508],
                [-75.0, 40.648],
            ]
        ],
    }
    index = tmp_path / "footprints.geojson"
    _geojson_index(
        index, [({"FileName": NE18, "url": "tiles/a.tif", "SrcImgDate": "2022-08-20"}, fp)]
    )
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        ingest_grid(
            wh, IndexSource(index, name_col="FileName", uri_col="url", date_col="SrcImgDate"),
            notices=True,
        )
        [row] = staged_images(
            wh, "image_name, acquired_on, source, uri, epsg, width_px, ST_AsText(geom)"
        )
    assert row[:6] == (
        NE18,
        date(2022, 8, 20),
        "index",
        str(tmp_path / "tiles" / "a.tif"),
        26918,
        600,
    )
    assert wkt.loads(row[6]).equals(
        wkt.loads(
            "POLYGON ((-75 40.648, -74.995 40.648, -74.995 40.6508, -75 40.6508, -75 40.648))"
        )
    )


@pytest.mark.parametrize("kind", ["shapefile", "geoparquet"])
def test_index_footprints_in_the_files_own_crs(tmp_path: Path, kind: str):
    # footprints stored in UTM 18N: a shapefile says so in its .prj, GeoParquet in its
    # "geo" metadata; without --crs the footprint lands where the UTM numbers put it
    write_tif(tmp_path / "tiles" / "a.tif", 600, 600)
    utm = "POLYGON((500000 4500000, 500360 4500000, 500360 4500300, 500000 4500300, " \
          "500000 4500000))"
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        select = (f"SELECT '{NE18}' AS image_name, 'tiles/a.tif' AS uri, "
                  f"ST_GeomFromText('{utm}') AS geom")
        if kind == "shapefile":
            index = tmp_path / "footprints.shp"
            wh.con.execute(f"COPY ({select}) TO '{index}' "
                           "(FORMAT GDAL, DRIVER 'ESRI Shapefile', SRS 'EPSG:26918')")
            assert index.with_suffix(".prj").is_file()
        else:
            index = tmp_path / "footprints.parquet"
            geo = json.dumps({"version": "1.1.0", "primary_column": "geom", "columns": {
                "geom": {"encoding": "WKB", "geometry_types": ["Polygon"],
                         "crs": {"id": {"authority": "EPSG", "code": 26918}}}}})
            wh.con.execute(
                f"COPY (SELECT image_name, uri, ST_AsWKB(geom) AS geom FROM ({select})) "
                f"TO '{index}' (FORMAT PARQUET, KV_METADATA {{geo: '{geo}'}})")
        source = IndexSource(index)
        assert source.footprint_crs(wh.con) == "EPSG:26918"
        ingest_grid(wh, source, notices=True)
        lon, lat = wh.con.execute(
            "select ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) from stg_naip__images"
        ).fetchone()
    # the footprint's centre, UTM 18N (500180, 4500150), 180 m east of 75 W
    want = Transformer.from_crs("EPSG:26918", "EPSG:4326", always_xy=True).transform(
        500180.0, 4500150.0)
    assert (lon, lat) == pytest.approx(want, abs=1e-6)


def test_index_missing_mapped_column_names_the_file(tmp_path: Path, cli):
    index = tmp_path / "footprints.geojson"
    _geojson_index(
        index, [({"name": "x", "path": "a.tif"}, {"type": "Point", "coordinates": [-75.0, 40.6]})]
    )
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh, pytest.raises(InputError) as err:
        ingest_naip(wh, IndexSource(index))
    assert str(err.value).startswith(
        f"footprint index {index} lacks --name-col image_name, --uri-col uri"
    )
    result = naip_cli(cli, tmp_path / "w.duckdb", "index", str(index), "--name-col", "name")
    assert result.exit_code == 1
    assert (
        f"Error: footprint index {index} lacks --uri-col uri "
        "(its columns: OGC_FID, name, path, geom)" in result.output
    )


def test_index_row_with_unreadable_raster_fails_alone(tmp_path: Path):
    write_tif(tmp_path / "ok.tif", 600, 600)
    box = {
        "type": "Polygon",
        "coordinates": [[[-75, 40.6], [-74.9, 40.6], [-74.9, 40.7], [-75, 40.6]]],
    }
    index = tmp_path / "fp.geojson"
    _geojson_index(
        index,
        [
            ({"image_name": "good", "uri": "ok.tif"}, box),
            ({"image_name": "gone", "uri": "missing.tif"}, box),
        ],
    )
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        result = ingest_naip(wh, IndexSource(index))
    assert [i.image_name for i in result.images] == ["good"]
    assert [f.uri for f in result.failures] == [str(tmp_path / "missing.tif")]


def test_geoparquet_index(tmp_path: Path, warehouse):
    write_tif(tmp_path / "b.tif", 600, 600)
    index = tmp_path / "stac.parquet"
    warehouse.con.execute(
        "copy (select 'img_b' as id, 'b.tif' as href, date '2022-09-09' as datetime, "
        "ST_GeomFromText('POLYGON ((-75 40.649, -74.996 40.649, -74.996 40.6508, -75 40.6508, "
        f"-75 40.649))') as geometry) to '{index}' (format parquet)"
    )
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        source = IndexSource(index, name_col="id", uri_col="href", date_col="datetime")
        result = ingest_naip(wh, source)
    assert [(r.image_name, r.acquired_on, r.date_from, r.footprint_crs) for r in result.images] == [
        ("img_b", date(2022, 9, 9), "index", "EPSG:4326")
    ]
