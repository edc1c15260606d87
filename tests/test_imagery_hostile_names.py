"""Untrusted names never become paths: image names from every source are checked at ingest,
and every file the tool writes or reads under its own folders stays inside them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import shapely
import shapely.geometry
import shapely.ops
from imagery_world import naip_cli, open_wh, write_tif
from pyproj import Transformer

from rsteller_db.errors import UnsafePathError
from rsteller_db.export.reader import SampleMaker, SkipSample
from rsteller_db.imagery import ImageRecord, ingest_naip
from rsteller_db.imagery.naming import MAX_NAME_CHARS, name_problem
from rsteller_db.imagery.rasters import read_raster
from rsteller_db.imagery.sources import FootprintSource
from rsteller_db.paths import inside

NAIP = "m_4107501_ne_18_060_20220815"
HOSTILE = [
    "../../../../escaped/x",
    "..",
    "/etc/cron.d/x",
    "a/b",
    "a\x00b",
    "tab\tname",
    "new\nline",
    "-rf",
    ".hidden",
    "x" * (MAX_NAME_CHARS + 1),
    "naïve",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused(name):
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", [NAIP, "m_4107501_NE_18_060_20220815", "img_b", "ok-2.v1",
                                  "x" * MAX_NAME_CHARS])
def test_plain_names_pass(name):
    assert name_problem(name) is None


def test_inside_refuses_every_way_out(tmp_path: Path):
    assert inside(tmp_path, "a/b.jpg") == tmp_path / "a" / "b.jpg"
    assert inside(tmp_path, "a/../b.jpg") == tmp_path / "b.jpg"
    for bad in ("../a", "a/../../b", "/etc/passwd", "a\x00b", "", ".", "a/.."):
        with pytest.raises(UnsafePathError):
            inside(tmp_path, bad)


def test_export_reader_skips_a_stored_path_that_leads_out(tmp_path: Path):
    maker = SampleMaker(str(tmp_path), patch_size_px=448, jpeg_quality=90)
    with pytest.raises(SkipSample, match="leads outside"):
        maker._file("../../etc/passwd")


def _fp(tif: Path) -> dict:
    """The raster's footprint in EPSG:4326, a little larger than the raster."""
    record, _ = read_raster(tif)
    to_4326 = Transformer.from_crs(f"EPSG:{record.epsg}", "EPSG:4326", always_xy=True)
    box = shapely.box(record.xmin - 5, record.ymin - 5, record.xmax + 5, record.ymax + 5)
    return shapely.geometry.mapping(shapely.ops.transform(to_4326.transform, box))


def test_index_with_hostile_names_ingests_the_rest_and_writes_nothing_outside(
    tmp_path: Path, cli
):
    write_tif(tmp_path / "tiles" / "a.tif", 600, 600)
    good = [NAIP, "Good_one", "ok-2.v1"]
    bad = ["../../../../escaped/x", "/abs/x", "tab\tname", "y" * 300, "good_one", "-rf"]
    features = [
        {"type": "Feature", "properties": {"image_name": n, "uri": "tiles/a.tif"},
         "geometry": _fp(tmp_path / "tiles" / "a.tif")}
        for n in good + bad
    ]
    index = tmp_path / "fp.geojson"
    index.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    warehouse = tmp_path / "deep" / "wh" / "w.duckdb"
    assert cli("-w", str(warehouse), "init").exit_code == 0
    out = naip_cli(cli, warehouse, "index", str(index))
    assert out.exit_code == 1
    lines = out.output.splitlines()
    failed = [line for line in lines if line.startswith("failed: ")]
    assert len(failed) == len(bad)
    assert any("'../../../../escaped/x'" in line for line in failed)
    assert any("'tab\\tname'" in line for line in failed)  # shown escaped, on one line
    assert any("300 characters long" in line for line in failed)
    assert any("good_one differs from Good_one only by case" in line for line in failed)
    assert f"ingested {len(good)} image(s), {len(bad)} failed" in lines
    assert lines[-1].startswith(f"Error: {len(bad)} of {len(good) + len(bad)} input(s) failed")

    assert cli("-w", str(warehouse), "build", "--to", "int_patches_gridded").exit_code == 0
    fetched = cli("-w", str(warehouse), "images", "fetch")
    assert fetched.exit_code == 0, fetched.output
    written = sorted(p for p in tmp_path.rglob("*.jpg"))
    assert written, "images fetch wrote no patch"
    images = (warehouse.parent / "images").resolve()
    assert all(p.resolve().is_relative_to(images) for p in written)
    assert {p.parent.name for p in written} <= set(good)
    assert not any("escaped" in str(p) for p in tmp_path.rglob("*"))


class _Listed(FootprintSource):
    """A source that yields the records it is given (the names an Earth Engine listing or a
    STAC search could return): the check sits in ingest, behind every source."""

    name = "listed"

    def __init__(self, records: list[ImageRecord]):
        self.records = records

    @property
    def label(self) -> str:
        return "listed"

    @property
    def uri(self) -> str:
        return "listed://"

    def scan(self, con):
        yield from self.records


def test_every_source_passes_the_name_check(tmp_path: Path):
    write_tif(tmp_path / "a.tif", 600, 600)
    base, _ = read_raster(tmp_path / "a.tif")
    names = ["USDA_NAIP_DOQQ_m_1", "a\x00b", "ctrl\x1bname", "..", "Dup", "dup"]
    records = [dataclasses.replace(base, image_name=n, uri=f"ee://{i}")
               for i, n in enumerate(names)]
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        result = ingest_naip(wh, _Listed(records))
        stored = [r[0] for r in wh.con.execute(
            "select image_name from raw.naip_images order by 1").fetchall()]
    assert stored == ["Dup", "USDA_NAIP_DOQQ_m_1"]
    assert [f.uri for f in result.failures] == ["ee://1", "ee://2", "ee://3", "ee://5"]
    assert "'a\\x00b'" in result.failures[0].message
