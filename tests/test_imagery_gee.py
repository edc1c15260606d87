"""The Earth Engine source and reader, through a fake ``ee`` module that records requests."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from imagery_world import (
    IMAGE_COLUMNS,
    build_grid,
    grid,
    ingest_grid,
    naip_cli,
    open_wh,
    staged_images,
)
from PIL import Image

from rsteller_db.errors import InputError
from rsteller_db.imagery import fetch_images, ingest_naip
from rsteller_db.imagery.gee import GeeSource, parse_region
from rsteller_db.settings import load_settings

NAME = "m_4107501_ne_18_060_20220815"
X0, Y0 = 500000.0, 4500000.0
# the listing every test asks for: a region, a start and an end date
REGION, START, END = "-75.1,40.6,-74.9,40.8", "2022-01-01", "2023-01-01"


class FakeEE:
    """Just enough of ``ee`` for the source and the reader; every call lands in ``calls``."""

    class EEException(Exception):
        pass

    def __init__(self, features: list[dict], authenticated: bool = True):
        self.features = features
        self.authenticated = authenticated
        self.calls: list[tuple] = []
        fake = self

        class Data:
            @staticmethod
            def computePixels(request):
                fake.calls.append(("computePixels", request))
                dims = request["grid"]["dimensions"]
                out = np.zeros(
                    (dims["height"], dims["width"]), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")]
                )
                out["R"], out["G"], out["B"] = 200, 100, 50
                return out

        self.data = Data()

    def Initialize(self, credentials=None, project=None):
        self.calls.append(("Initialize", credentials, project))
        if not self.authenticated:
            raise self.EEException("Please authorize access to your Earth Engine account.")

    def ServiceAccountCredentials(self, email, key_file=None):
        self.calls.append(("ServiceAccountCredentials", email, key_file))
        return f"creds:{email}"

    def Geometry(self, geojson):
        return ("Geometry", geojson)

    def Image(self, image_id):
        fake = self

        class Img:
            def select(self, bands):
                fake.calls.append(("Image.select", image_id, bands))
                return ("Image", image_id, tuple(bands))

        return Img()

    def ImageCollection(self, collection_id):
        fake = self
        self.calls.append(("ImageCollection", collection_id))

        class Coll:
            def filterBounds(self, geom):
                fake.calls.append(("filterBounds", geom))
                return self

            def filterDate(self, start, end):
                fake.calls.append(("filterDate", start, end))
                return self

            def sort(self, prop):
                fake.calls.append(("sort", prop))
                return self

            def size(self):
                return Info(len(fake.features))

            def toList(self, count, offset=0):
                fake.calls.append(("toList", count, offset))
                return Info(fake.features[offset:offset + count])

            def getInfo(self):  # Earth Engine refuses this beyond 5,000 elements
                if len(fake.features) > 5000:
                    raise fake.EEException("Collection query aborted after accumulating over "
                                           "5000 elements.")
                return {"type": "ImageCollection", "features": fake.features}

        class Info:  # a computed object: its value arrives with getInfo()
            def __init__(self, value):
                self.value = value

            def getInfo(self):
                return self.value

        return Coll()


def feature(
    name: str, scale: float = 0.6, bands=("R", "G", "B", "N"), width=1400, height=2000
) -> dict:
    transform = [scale, 0, X0, 0, -scale, Y0]
    ring = [
        [-75.0001, 40.6448],
        [-74.99, 40.6448],
        [-74.99, 40.6509],
        [-75.0001, 40.6509],
        [-75.0001, 40.6448],
    ]
    start = int(datetime(2022, 8, 15, 15, 30, tzinfo=UTC).timestamp() * 1000)
    return {
        "type": "Image",
        "id": f"USDA/NAIP/DOQQ/{name}",
        "bands": [
            {
                "id": b,
                "crs": "EPSG:26918",
                "crs_transform": transform,
                "dimensions": [width, height],
            }
            for b in bands
        ],
        "properties": {
            "system:footprint": {"type": "LinearRing", "coordinates": ring},
            "system:time_start": start,
            "system:version": 7,
        },
    }


@pytest.fixture
def fake(monkeypatch) -> FakeEE:
    ee = FakeEE(
        [
            feature(NAME),
            feature("m_4107501_nw_18_100_20220815", scale=1.0),
            feature("m_4107501_se_18_060_20220815", bands=("R", "G", "N")),
        ]
    )
    monkeypatch.setitem(sys.modules, "ee", ee)
    return ee


def test_listing_records_the_request_and_keeps_rgb_at_0_6_m(tmp_path: Path, fake: FakeEE):
    source = GeeSource(REGION, START, END, project="p1")
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        result = ingest_grid(wh, source, notices=True)
        [row] = staged_images(wh, f"{IMAGE_COLUMNS}, uri")
        patches = grid(wh)
    assert fake.calls[:6] == [
        ("Initialize", None, "p1"),
        ("ImageCollection", "USDA/NAIP/DOQQ"),
        (
            "filterBounds",
            (
                "Geometry",
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[-75.1, 40.6], [-74.9, 40.6], [-74.9, 40.8], [-75.1, 40.8], [-75.1, 40.6]]
                    ],
                },
            ),
        ),
        ("filterDate", START, END),
        ("sort", "system:index"),
        ("toList", 1000, 0),
    ]
    assert [str(n) for n in result.notices] == [
        "USDA/NAIP/DOQQ/m_4107501_nw_18_100_20220815: "
        "skipped: R, G, B are not 0.6 m north-up pixels",
        "USDA/NAIP/DOQQ/m_4107501_se_18_060_20220815: skipped: lacks one of the bands R, G, B",
    ]
    assert row == (
        NAME,
        date(2022, 8, 15),
        26918,
        0.6,
        1400,
        2000,
        [X0, Y0 - 1200.0, X0 + 840.0, Y0],
        "gee",
        f"USDA/NAIP/DOQQ/{NAME}",
    )
    # the footprint ends about 670 m below the top of the 1200 m raster: row 1 (to 806 m) is out
    assert [(p[1], p[2]) for p in patches] == [(0, 0), (1, 0)]


def test_a_state_sized_listing_comes_in_pages(tmp_path: Path, monkeypatch):
    # 5,500 images: more than Earth Engine describes in one request
    names = [f"m_41075{i:05d}_ne_18_060_20220815" for i in range(5_500)]
    ee = FakeEE([feature(n) for n in names])
    monkeypatch.setitem(sys.modules, "ee", ee)
    source = GeeSource(REGION, START, END)
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        result = ingest_naip(wh, source)
        listed = wh.con.execute("select count(distinct image_name) from raw.naip_images"
                                ).fetchone()[0]
    pages = [c for c in ee.calls if c[0] == "toList"]
    assert pages == [("toList", 1000, offset) for offset in range(0, 5_500, 1000)]
    assert listed == 5_500 and result.failures == []


def test_fetch_asks_for_exactly_the_patch_grid(tmp_path: Path, fake: FakeEE):
    path = tmp_path / "wh" / "w.duckdb"
    with open_wh(path) as wh:
        ingest_naip(wh, GeeSource(REGION, START, END))
        build_grid(wh)
    summary = fetch_images(
        path, settings=load_settings(), workers=2, reader_options={"project": "p2"}
    )
    assert (summary.ok, summary.failed) == (2, 0)
    requests = sorted(
        (c[1] for c in fake.calls if c[0] == "computePixels"),
        key=lambda r: r["grid"]["affineTransform"]["translateX"],
    )
    assert [r["grid"] for r in requests] == [
        {
            "dimensions": {"width": 448, "height": 448},
            "affineTransform": {
                "scaleX": 0.6,
                "shearX": 0,
                "translateX": X0 + px * 0.6,
                "shearY": 0,
                "scaleY": -0.6,
                "translateY": Y0,
            },
            "crsCode": "EPSG:26918",
        }
        for px in (0, 896)
    ]
    assert {r["expression"] for r in requests} == {
        ("Image", f"USDA/NAIP/DOQQ/{NAME}", ("R", "G", "B"))
    }
    assert {r["fileFormat"] for r in requests} == {"NUMPY_NDARRAY"}
    assert ("Initialize", None, "p2") in fake.calls
    jpeg = next((path.parent / "images" / NAME).glob("*.jpg")).read_bytes()
    pixel = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))[10, 10]
    assert np.abs(pixel.astype(int) - [200, 100, 50]).max() <= 2


def test_missing_credentials_say_how_to_authenticate(tmp_path: Path, monkeypatch, cli):
    monkeypatch.setitem(sys.modules, "ee", FakeEE([], authenticated=False))
    result = naip_cli(cli, tmp_path / "w.duckdb", "gee",
                      "--region", REGION, "--start", START, "--end", END)
    assert result.exit_code == 1
    assert (
        "Error: Earth Engine is not authenticated (Please authorize access to your Earth Engine "
        "account.): run `earthengine authenticate`"
    ) in result.output
    assert "--key-file KEY.json" in result.output


def test_service_account_key_file(tmp_path: Path, fake: FakeEE):
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"client_email": "bot@p.iam.gserviceaccount.com"}))
    source = GeeSource(REGION, START, END, key_file=str(key))
    list(source.scan(None))
    assert fake.calls[:2] == [
        ("ServiceAccountCredentials", "bot@p.iam.gserviceaccount.com", str(key)),
        ("Initialize", "creds:bot@p.iam.gserviceaccount.com", None),
    ]


def test_gee_needs_its_options_and_its_extra(tmp_path: Path, monkeypatch, cli):
    result = naip_cli(cli, tmp_path / "w.duckdb", "gee", "--start", START)
    assert result.exit_code == 1
    assert "Error: --source gee needs --region, --end" in result.output
    monkeypatch.setitem(sys.modules, "ee", None)  # import ee -> ImportError
    with pytest.raises(InputError, match=r"pip install 'rsteller-db\[gee\]'"):
        GeeSource(REGION, START, END)


def test_region_forms(tmp_path: Path):
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    path = tmp_path / "r.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": poly}],
            }
        )
    )
    assert parse_region(str(path)) == poly
    assert parse_region(json.dumps(poly)) == poly
    with pytest.raises(InputError, match="minlon,minlat,maxlon,maxlat"):
        parse_region("1,2,0,3")
