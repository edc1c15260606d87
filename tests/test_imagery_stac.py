"""ingest naip --source stac and images fetch over HTTP, against a loopback STAC API serving
real COGs with Range support (tests/http_world.py); nothing here leaves 127.0.0.1."""

from __future__ import annotations

import json
import socket
from datetime import date
from pathlib import Path

import pytest
import rasterio
from http_world import LoopbackServer, make_cog, stac_item
from imagery_world import (
    IMAGE_COLUMNS,
    build_grid,
    ingest_grid,
    naip_cli,
    open_wh,
    staged_images,
    write_tif,
)

from rsteller_db.errors import InputError
from rsteller_db.imagery import fetch_images, ingest_naip, remote
from rsteller_db.imagery.stac import StacSource
from rsteller_db.settings import load_settings


def name(i: int) -> str:
    return f"m_41075{i:02d}_ne_18_060_20220815"


GOOD = [name(1), name(2), name(3)]
FAULTS = {"404": name(4), "500": name(5), "stall": name(6), "truncated": name(7),
          "flaky": name(8), "no-range": name(9)}


@pytest.fixture(scope="module")
def cogs(tmp_path_factory) -> Path:
    """Small 4-band COGs 10 km apart (no overlap), one per image name."""
    root = tmp_path_factory.mktemp("cogs")
    for i, image in enumerate(GOOD + list(FAULTS.values())):
        plain = root / "plain" / f"{image}.tif"
        write_tif(plain, 1400, 1000, x0=500000.0 + 10_000 * i, seed=i)
        make_cog(plain, root / "served" / f"{image}.tif", blocksize=256)
    return root / "served"


def serve(cogs: Path, images: list[str], **kw) -> LoopbackServer:
    server = LoopbackServer(cogs, **kw)
    server.__enter__()
    server.items = [stac_item(cogs / f"{i}.tif", server.file_url(f"{i}.tif"), i) for i in images]
    return server


@pytest.fixture
def api(cogs):
    server = serve(cogs, GOOD, page_size=2)
    yield server
    server.__exit__(None, None, None)


def source(server: LoopbackServer, **kw) -> StacSource:
    return StacSource(server.stac_url, "naip", bbox="-76,40,-74,42",
                      datetime_range="2021-08-01/2022-11-30", backoff_s=0.0, **kw)


def settings(**kw):
    return load_settings(overrides={"sample_interval": 1, **kw})


def fetch(path: Path, **kw):
    return fetch_images(path, settings=settings(), workers=3, backoff_s=0.0, **kw)


def test_search_pages_through_next_links_and_reads_grids_without_opening(api, tmp_path, cogs):
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        ingest_grid(wh, source(api))
        rows = staged_images(wh, f"{IMAGE_COLUMNS}, uri, url_signing")
    pages = [s for s in api.served if s.path == "/stac/search"]
    assert len(pages) >= 2  # three items, two per page: the second page came from `next`
    assert api.file_requests() == []  # the grid came from proj:*, no raster was opened
    expected = []
    for image in GOOD:
        with rasterio.open(cogs / f"{image}.tif") as ds:
            expected.append((image, date(2022, 8, 15), 26918, 0.6, 1400, 1000,
                             list(ds.bounds), "stac", api.file_url(f"{image}.tif"), None))
    assert rows == expected


def test_items_without_projection_fields_have_their_header_read(cogs, tmp_path):
    server = serve(cogs, [])
    try:
        server.items = [stac_item(cogs / f"{GOOD[0]}.tif", server.file_url(f"{GOOD[0]}.tif"),
                                  GOOD[0], proj=False)]
        with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
            result = ingest_naip(wh, source(server))
        [record] = result.images
        assert (record.epsg, record.width_px, record.height_px, record.details["grid_from"]) == (
            26918, 1400, 1000, "header")
        assert record.acquired_on == date(2022, 8, 15) and record.date_from == "stac"
        served = server.file_requests()
        assert served and all(s.method == "HEAD" or s.status == 206 for s in served)
        assert server.bytes_sent() < (cogs / f"{GOOD[0]}.tif").stat().st_size / 2
    finally:
        server.__exit__(None, None, None)


def test_bad_items_fail_with_the_reason_and_the_rest_ingest(cogs, tmp_path, cli):
    server = serve(cogs, GOOD[:1])
    try:
        def item(image, **changes):
            base = stac_item(cogs / f"{image}.tif", server.file_url(f"{image}.tif"), image)
            for key, value in changes.items():
                if key == "props":
                    base["properties"].update(value)
                else:
                    base[key] = value
            return base

        no_asset = item(GOOD[1])
        del no_asset["assets"]["image"]
        header_404 = item(FAULTS["404"], props={"proj:epsg": None})
        server.faults = {f"{FAULTS['404']}.tif": "404"}
        server.items += [
            no_asset,
            item(GOOD[2], props={"proj:epsg": 26917}),  # the grid lands 700 km west
            item(FAULTS["truncated"], id="../../escape"),
            item(FAULTS["500"], props={"proj:epsg": 4326}),
            header_404,
            item(FAULTS["stall"], geometry={"type": "Point", "coordinates": [-75, 41]}),
        ]
        wh = str(tmp_path / "w.duckdb")
        out = naip_cli(cli, wh, "stac", "--url", server.stac_url, "--bbox", "-76,40,-74,42",
                       quiet=True)
        failed = [line for line in out.output.splitlines() if line.startswith("failed: ")]
        assert out.exit_code == 1
        assert len(failed) == 6
        assert (f"failed: STAC item {GOOD[1]}: has no asset 'image' (its assets: thumbnail): "
                "choose one with --asset") in failed
        assert any(f"STAC item {GOOD[2]}: its grid in EPSG:26917" in f and "CRS is wrong" in f
                   for f in failed)
        assert any("'../../escape'" in f for f in failed)
        assert any(f"STAC item {FAULTS['500']}: its CRS EPSG:4326 is not projected in metres"
                   in f for f in failed)
        assert any(f"STAC item {FAULTS['404']}: cannot read it" in f and "404" in f
                   for f in failed)
        assert any(f"STAC item {FAULTS['stall']}: its geometry is a Point" in f for f in failed)
        assert "ingested 1 image(s), 6 failed" in out.output
        stored = cli("-w", wh, "query", "--format", "csv",
                     "select image_name, source from raw.naip_images")
        assert stored.output == f"image_name,source\n{GOOD[0]},stac\n"
    finally:
        server.__exit__(None, None, None)


def test_reingesting_the_same_search_adds_nothing(api, tmp_path, cli):
    wh = str(tmp_path / "w.duckdb")
    args = ("--url", api.stac_url, "--collection", "naip", "--bbox", "-76,40,-74,42",
            "--datetime", "2021-08-01/2022-11-30")
    first, second = (naip_cli(cli, wh, "stac", *args, quiet=True) for _ in range(2))
    assert first.exit_code == 0, first.output
    assert "ingested 3 image(s), 0 failed" in first.output
    assert "ingested 3 image(s) (unchanged since the last ingest), 0 failed" in second.output
    sources = cli("-w", wh, "query", "--format", "csv",
                  "select kind, details->>'source' as s, details->>'images' as n "
                  "from _meta.sources where kind = 'naip'")
    assert sources.output == "kind,s,n\nnaip,stac,3\n"


def test_search_filters_are_sent_to_the_api(api, tmp_path):
    with open_wh(tmp_path / "wh" / "w.duckdb") as wh:
        assert ingest_naip(wh, StacSource(api.stac_url, "naip", bbox="10,10,11,11")).images == []
        later = StacSource(api.stac_url, "naip", datetime_range="2023-01-01/2023-12-31")
        assert ingest_naip(wh, later).images == []
        other = StacSource(api.stac_url, "sentinel-2-l2a")
        assert ingest_naip(wh, other).images == []
        assert len(ingest_naip(wh, StacSource(api.stac_url, "naip")).images) == 3


def test_an_unreachable_api_is_one_error_and_nothing_is_written(api, tmp_path, cli):
    wh = str(tmp_path / "w.duckdb")
    assert cli("-w", wh, "init").exit_code == 0
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/stac"
    out = cli("-q", "-w", wh, "ingest", "naip", "--source", "stac", "--url", closed)
    assert out.exit_code == 1
    errors = [line for line in out.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"Error: cannot open the STAC API at {closed} (")
    api.search_fails_from = 2  # the first page arrives, the second fails after retries
    out = cli("-q", "-w", wh, "ingest", "naip", "--source", "stac", "--url", api.stac_url)
    assert out.exit_code == 1
    assert f"Error: cannot search the STAC API at {api.stac_url} (" in out.output
    count = cli("-w", wh, "query", "--format", "csv",
                "select (select count(*) from raw.naip_images) + "
                "(select count(*) from _meta.sources where kind = 'naip') as n")
    assert count.output == "n\n0\n"


def test_fetch_over_http_fails_bad_images_alone_and_a_rerun_retries_only_them(cogs, tmp_path):
    images = GOOD + list(FAULTS.values())
    server = serve(cogs, images, stall_s=2.5, flaky_failures=1)
    try:
        path = tmp_path / "wh" / "w.duckdb"
        with open_wh(path, sample_interval=1) as wh:
            ingest_grid(wh, source(server), notices=True)
        server.faults = {f"{image}.tif": fault for fault, image in FAULTS.items()}
        server.reset()
        summary = fetch(path, retries=1, timeout_s=1)
        per_image = 6  # 1400 x 1000 px at interval 1: 3 x 2 windows of 448 px
        assert summary.targets == per_image * len(images)
        with open_wh(path) as wh:
            reasons = dict(wh.con.execute(
                "select p.image_name, string_agg(distinct i.status || ': ' || "
                "coalesce(i.reason, ''), ' | ') from patch_images i "
                "join int_patches_gridded p using (patch_id) group by all").fetchall())
        for image in GOOD + [FAULTS["flaky"]]:  # GDAL's own retries got the flaky one
            assert reasons[image] == "ok: "
        assert "HTTP response code: 404" in reasons[FAULTS["404"]]
        assert "HTTP response code: 500" in reasons[FAULTS["500"]]
        assert "timed out" in reasons[FAULTS["stall"]]
        assert "Range downloading not supported" in reasons[FAULTS["no-range"]]
        assert "failed: OSError: cannot read the window" in reasons[FAULTS["truncated"]]
        # an image that cannot be opened is tried once per run, not once per patch
        assert len(server.file_requests(f"{FAULTS['404']}.tif")) == 1
        assert len(server.file_requests(f"{FAULTS['500']}.tif")) <= 3  # GDAL's retries
        assert all(s.status != 200 or s.method == "HEAD" or s.body_bytes == 0
                   for s in server.file_requests())  # never a whole file
        failed = summary.failed
        assert failed == 5 * per_image and summary.ok == summary.targets - failed

        server.faults = {}
        server.reset()
        again = fetch(path)
        assert (again.already, again.ok, again.failed) == (summary.ok, failed, 0)
        retried = {s.path.rsplit("/", 1)[1][:-4] for s in server.file_requests()}
        assert retried == {FAULTS[f] for f in ("404", "500", "stall", "truncated", "no-range")}
    finally:
        server.__exit__(None, None, None)


def test_signed_urls_are_signed_when_read_and_stored_plain(cogs, tmp_path, monkeypatch):
    """Planetary Computer's token service cannot be reached from here: a thin signer that
    adds a token like it stands in for it."""
    monkeypatch.setitem(remote.SIGNERS, "test-token", lambda: lambda url: url + "?sig=SECRET")
    server = serve(cogs, [GOOD[0], FAULTS["truncated"]])
    try:
        path = tmp_path / "wh" / "w.duckdb"
        with open_wh(path, sample_interval=1) as wh:
            ingest_naip(wh, source(server, sign="test-token"))
            build_grid(wh)
            stored = wh.con.execute(
                "select distinct uri not like '%SECRET%', url_signing from stg_naip__images"
            ).fetchall()
        assert stored == [(True, "test-token")]
        server.faults = {f"{FAULTS['truncated']}.tif": "truncated"}
        summary = fetch(path, retries=0)
        assert summary.ok > 0 and summary.failed > 0
        assert {s.query for s in server.file_requests()} == {"sig=SECRET"}
        with open_wh(path) as wh:
            reasons = [r for (r,) in wh.con.execute(
                "select reason from patch_images where status = 'failed'").fetchall()]
        assert reasons and not any("SECRET" in r for r in reasons)
    finally:
        server.__exit__(None, None, None)


def test_planetary_computer_signing_goes_through_the_package(api, tmp_path, cli):
    # planetary_computer.sign_url signs Azure blob URLs only; loopback URLs pass unchanged,
    # so the wiring through the real package runs here without its token service
    wh = str(tmp_path / "w.duckdb")
    out = cli("-q", "-w", wh, "ingest", "naip", "--source", "stac", "--url", api.stac_url,
              "--sign", "planetary-computer")
    assert out.exit_code == 0, out.output
    signing = cli("-w", wh, "query", "--format", "csv",
                  "select distinct details->>'sign' as s from raw.naip_images")
    assert signing.output == "s\nplanetary-computer\n"


def test_stac_needs_a_url(tmp_path, cli):
    out = cli("-w", str(tmp_path / "w.duckdb"), "ingest", "naip", "--source", "stac")
    assert out.exit_code == 1
    assert out.output.startswith("Error: --source stac needs --url: e.g. --url https://")
    with pytest.raises(InputError, match="--bbox 1,2,3: give minlon,minlat,maxlon,maxlat"):
        StacSource("http://127.0.0.1:9", "naip", bbox="1,2,3")


def test_index_of_urls_reads_headers_by_range_and_fetches(cogs, tmp_path):
    server = serve(cogs, [])
    try:
        index = tmp_path / "fp.geojson"
        features = [
            {"type": "Feature", "properties": {"image_name": i, "uri": server.file_url(f"{i}.tif")},
             "geometry": stac_item(cogs / f"{i}.tif", "", i)["geometry"]}
            for i in (GOOD[0], FAULTS["404"])
        ]
        index.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        server.faults = {f"{FAULTS['404']}.tif": "404"}
        path = tmp_path / "wh" / "w.duckdb"
        from rsteller_db.imagery import IndexSource

        with open_wh(path, sample_interval=1) as wh:
            result = ingest_naip(wh, IndexSource(index))
            build_grid(wh)
        assert [r.image_name for r in result.images] == [GOOD[0]]
        assert [(f.uri, "404" in f.message) for f in result.failures] == [
            (server.file_url(f"{FAULTS['404']}.tif"), True)]
        summary = fetch(path)
        assert (summary.ok, summary.failed) == (6, 0)
        size = (cogs / f"{GOOD[0]}.tif").stat().st_size
        assert server.bytes_sent(f"{GOOD[0]}.tif") <= size  # header + tiles, never more
    finally:
        server.__exit__(None, None, None)


# -- the bundled sample as a COG behind the loopback STAC API ------------------------------

# Bytes read over HTTP per fetched patch of the sample COG (7.8 MB, JPEG tiles of 512 px,
# the default grid of 36 patches): the header once plus the tiles under each window, measured
# at 139,716 (bench/patch_pixels.py reports it); the bound leaves 15 % for GDAL's merging.
BYTES_PER_PATCH = 160_000


@pytest.fixture(scope="module")
def sample_cog(sample_files, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    raster = sample_files.raster  # the session's sample town (conftest.py)
    return make_cog(raster, root / "cog" / raster.name, compress="JPEG")


def sample_api(cog: Path) -> LoopbackServer:
    server = serve(cog.parent, [])
    server.items = [stac_item(cog, server.file_url(cog.name), cog.stem)]
    return server


def test_only_the_windows_bytes_are_read(sample_cog, tmp_path):
    server = sample_api(sample_cog)
    try:
        path = tmp_path / "wh" / "w.duckdb"
        with open_wh(path) as wh:
            ingest_naip(wh, StacSource(server.stac_url, "naip"))
            build_grid(wh)
        summary = fetch_images(path, limit=1, workers=1)
        assert summary.ok == 1
        size = sample_cog.stat().st_size
        requests = server.file_requests()
        assert all(s.method == "HEAD" or (s.range and s.status == 206) for s in requests)
        assert sum(s.method == "GET" and s.range is None for s in requests) == 0
        assert server.bytes_sent() < 0.05 * size  # header + the 4 tiles under one window
    finally:
        server.__exit__(None, None, None)


@pytest.mark.slow
def test_the_sample_through_the_stac_api_equals_the_local_path(sample_cog, tmp_path, cli):
    server = sample_api(sample_cog)
    try:
        remote_wh, local_wh = tmp_path / "http" / "w.duckdb", tmp_path / "local" / "w.duckdb"
        for wh, source_args in (
            (remote_wh, ["--source", "stac", "--url", server.stac_url, "--collection", "naip",
                         "--bbox", "-75.3,41.0,-75.1,41.1", "--datetime",
                         "2021-08-01/2022-11-30"]),
            (local_wh, ["--source", "local", str(sample_cog)]),
        ):
            wh.parent.mkdir(parents=True)
            for args in (["ingest", "naip", *source_args],
                         ["build", "--to", "int_patches_gridded"], ["images", "fetch"]):
                out = cli("-q", "-w", str(wh), *args)
                assert out.exit_code == 0, (args, out.output)

        def jpegs(wh: Path) -> dict[int, bytes]:
            with open_wh(wh) as con:
                rows = con.con.execute("select patch_id, path from patch_images "
                                       "where status = 'ok'").fetchall()
            return {pid: (wh.parent / rel).read_bytes() for pid, rel in rows}

        over_http, local = jpegs(remote_wh), jpegs(local_wh)
        with open_wh(local_wh) as wh:
            grid = wh.con.execute("select count(*) from int_patches_gridded").fetchone()[0]
        assert len(local) == grid > 30
        assert over_http.keys() == local.keys()
        assert all(over_http[k] == local[k] for k in local)  # byte for byte
        per_patch = server.bytes_sent() / len(over_http)
        assert per_patch <= BYTES_PER_PATCH, per_patch
        assert all(s.method == "HEAD" or s.status == 206 for s in server.file_requests())
    finally:
        server.__exit__(None, None, None)
