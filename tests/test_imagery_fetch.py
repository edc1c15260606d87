"""images fetch: JPEG pixels equal direct reads, failures are recorded and retried alone."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
from imagery_world import build_grid, open_wh, write_tif
from PIL import Image
from rasterio.windows import Window

from rsteller_db.imagery import LocalSource, encode_jpeg, fetch_images, ingest_naip, pixels
from rsteller_db.settings import load_settings

A = "m_4107501_ne_18_060_20220815"
FINE = "m_4107502_se_18_030_20221001"


@pytest.fixture
def world(tmp_path: Path):
    d = tmp_path / "naip"
    write_tif(d / f"{A}.tif", 1400, 1000)
    write_tif(d / f"{FINE}.tif", 1800, 1800, gsd=0.3, x0=510000.0, seed=2)
    path = tmp_path / "wh" / "w.duckdb"
    with open_wh(path, sample_interval=1) as wh:
        ingest_naip(wh, LocalSource(d))
        build_grid(wh)
    return path, d


def rows(path: Path, sql: str) -> list[tuple]:
    with open_wh(path) as wh:
        return wh.con.execute(sql).fetchall()


def fetch(path: Path, **kw):
    return fetch_images(
        path,
        settings=load_settings(overrides={"sample_interval": 1}),
        workers=3,
        backoff_s=0.0,
        **kw,
    )


def test_fetched_pixels_equal_a_direct_read(world):
    path, d = world
    summary = fetch(path)
    assert (summary.targets, summary.ok, summary.failed) == (10, 10, 0)
    got = rows(
        path,
        "select p.image_name, p.px_x, p.px_y, p.px_size, i.path, i.status "
        "from int_patches_gridded p join patch_images i using (patch_id) order by all",
    )
    assert len(got) == 10 and {g[5] for g in got} == {"ok"}
    for name, x, y, size, rel, _ in got:
        jpeg = (path.parent / rel).read_bytes()
        assert rel == f"images/{name}/{rel.rsplit('/', 1)[1]}"
        with rasterio.open(d / f"{name}.tif") as ds:
            raw = ds.read([1, 2, 3], window=Window(x, y, size, size))
        if size == 448:
            direct = np.moveaxis(raw, 0, -1)
            assert jpeg == encode_jpeg(np.ascontiguousarray(direct), 90)
        else:  # 0.3 m: 896 source pixels averaged 2 x 2 down to 448
            direct = np.moveaxis(raw.reshape(3, 448, 2, 448, 2).mean(axis=(2, 4)), 0, -1)
        decoded = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=float)
        assert decoded.shape == (448, 448, 3)
        assert np.abs(decoded - direct).mean() < 3


def test_resampled_read_is_the_block_average(world):
    path, d = world
    ((pid, x, y, size),) = rows(
        path,
        "select patch_id, px_x, px_y, px_size from int_patches_gridded "
        f"where image_name = '{FINE}' and col = 1 and \"row\" = 0",
    )
    window = pixels.PatchWindow(
        pid, FINE, "local", str(d / f"{FINE}.tif"), 26918, 0.3, 510000.0, 4500000.0, x, y, size, 448
    )
    reader = pixels.make_reader("local")
    got = reader.read(window)
    reader.close()
    with rasterio.open(d / f"{FINE}.tif") as ds:
        raw = ds.read([1, 2, 3], window=Window(x, y, size, size)).astype(float)
    expected = np.moveaxis(raw.reshape(3, 448, 2, 448, 2).mean(axis=(2, 4)), 0, -1)
    assert got.shape == (448, 448, 3) and got.dtype == np.uint8
    assert np.abs(got - expected).max() <= 1


def test_failed_reads_are_recorded_and_only_they_are_retried(world, tmp_path: Path, cli):
    path, d = world
    good = (d / f"{FINE}.tif").read_bytes()
    (d / f"{FINE}.tif").write_bytes(good[:2000])  # truncated after ingest
    result = cli("-q", "-w", str(path), "images", "fetch", "--retries", "1", "--format", "csv")
    assert result.exit_code == 1
    assert "targets,already,ok,failed" in result.output and "\n10,0,6,4," in result.output
    assert (
        "Error: 4 patch(es) failed (recorded in patch_images with the reason); re-run"
        in result.output
    )
    failed = rows(
        path,
        "select status, path, attempts, reason like '%Error%' from patch_images "
        "where status = 'failed'",
    )
    assert failed == [("failed", None, 2, True)] * 4
    (d / f"{FINE}.tif").write_bytes(good)
    again = fetch(path, retries=0)
    assert (again.targets, again.already, again.ok, again.failed) == (10, 6, 4, 0)
    assert rows(
        path, "select status, attempts, count(*) from patch_images group by all order by all"
    ) == [("ok", 1, 6), ("ok", 3, 4)]
    third = fetch(path)
    assert (third.already, third.ok) == (10, 0)


def test_missing_jpeg_is_fetched_again(world):
    path, _ = world
    fetch(path, limit=2)
    first = rows(path, "select path from patch_images order by path")[0][0]
    (path.parent / first).unlink()
    again = fetch(path, limit=2)
    assert (again.targets, again.already, again.ok) == (2, 1, 1)


def test_caption_requests_choose_the_patches(world):
    path, _ = world
    with open_wh(path) as wh:
        wanted = [
            r[0]
            for r in wh.con.execute(
                "select patch_id from int_patches_gridded order by patch_id limit 3"
            ).fetchall()
        ]
        wh.con.execute(
            "create table caption_requests as select unnest(?::bigint[]) as patch_id, 1 as task",
            [wanted + wanted[:1]],
        )
    summary = fetch(path, limit=100)
    assert summary.targets == 3
    assert sorted(r[0] for r in rows(path, "select patch_id from patch_images")) == sorted(wanted)


def test_warehouse_is_free_while_patches_are_read(world, monkeypatch):
    path, _ = world
    probe = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute('insert into _meta.sources (kind, name, uri) values (?, ?, ?)', "
        "['naip', 'probe', 'x']); "
        "print(con.execute('select count(*) from patch_images').fetchone()[0])"
    )
    seen: list[str] = []
    once = threading.Lock()

    class ProbingReader(pixels.RasterioReader):
        def read(self, window):
            with once:
                if seen:
                    return super().read(window)
                done = subprocess.run(
                    [sys.executable, "-c", probe, str(path)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                seen.append(done.stdout.strip() or done.stderr)
            return super().read(window)

    monkeypatch.setitem(pixels.READERS, "local", ProbingReader)
    summary = fetch(path, limit=4)
    assert summary.ok == 4
    assert seen == ["0"]  # another process wrote to the warehouse in the middle of the fetch


def test_fetch_before_the_grid_says_what_to_run(tmp_path: Path, cli):
    wh = str(tmp_path / "w.duckdb")
    assert cli("-w", wh, "init").exit_code == 0
    result = cli("-w", wh, "images", "fetch")
    assert result.exit_code == 1
    assert (
        "Error: no int_patches_gridded in the warehouse: run `rsteller-db ingest naip ...` "
        "and `rsteller-db build` first"
    ) in result.output
