"""Benchmark: `images fetch` from local COGs and from the same COGs over loopback HTTP, against a
bare loop that only reads the same windows with rasterio and encodes them with Pillow in
memory, one thread, all in the same run.

Input: the sample raster as a COG (0.6 m, 3 bands, EPSG:26918, JPEG tiles of 512 px,
overviews) and copies of it moved 10 km apart (4 files by default), each made a COG of its
own. The local side ingests the folder (`--source local`); the HTTP side ingests the same
files through a loopback STAC API (`--source stac`, tests/http_world.py) and reads them
through GDAL's /vsicurl/ with HTTP ranges. The server runs in this process, so it shares the
two cores and the GIL with the fetch: the HTTP figures are a floor, not a network forecast.

Reported:
- bytes sent by the server per fetched patch, and as a share of the files' size (the whole
  grid, and one window of a fresh image alone), for `--interval` 2 (RSTeller's grid) and 1;
- patches/s of `images fetch` over HTTP and from local files per worker count, best of
  ``--rounds`` alternating rounds, as ratios against the bare loop and against each other.

    python bench/patch_pixels.py               # 4 files, workers 2 and 8, 3 rounds
    python bench/patch_pixels.py --rounds 1 --copies 1   # quicker
"""

from __future__ import annotations

import argparse
import io
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from http_world import LoopbackServer, make_cog, stac_item  # noqa: E402
from imagery_world import GRID_STAGES  # noqa: E402

from rsteller_db import stages  # noqa: E402
from rsteller_db.imagery import LocalSource, fetch_images, ingest_naip  # noqa: E402
from rsteller_db.imagery.stac import StacSource  # noqa: E402
from rsteller_db.sample import generate_sample  # noqa: E402
from rsteller_db.settings import load_settings  # noqa: E402
from rsteller_db.warehouse import Warehouse  # noqa: E402

QUALITY = 90


def make_cogs(root: Path, copies: int) -> Path:
    """The sample raster and ``copies - 1`` copies moved 10 km east each (so the overlap rule
    keeps all their patches), each written as a COG into ``root/cogs``."""
    import rasterio
    from affine import Affine

    raster = generate_sample(root / "sample", seed=0).raster
    out = root / "cogs"
    make_cog(raster, out / raster.name, compress="JPEG")
    for i in range(1, copies):
        moved = root / "moved" / f"{raster.stem[:-8]}2022081{i}.tif"  # another NAIP-style name
        moved.parent.mkdir(exist_ok=True)
        shutil.copyfile(raster, moved)
        with rasterio.open(moved, "r+") as ds:
            ds.transform = Affine.translation(10_000.0 * i, 0) @ ds.transform
        make_cog(moved, out / moved.name, compress="JPEG")
    return out


def settings(interval: int):
    return load_settings(overrides={"sample_interval": interval})


def warehouse(path: Path, source, interval: int) -> list[tuple[str, int, int, int]]:
    """Ingest ``source`` and build the grid; the windows (local uri, x, y, size) in order."""
    path.parent.mkdir(parents=True)
    with Warehouse(path, settings=settings(interval)) as wh:
        result = ingest_naip(wh, source)
        assert not result.failures, result.failures
        stages.build(wh, only=GRID_STAGES)
        return wh.con.execute(
            "select i.uri, px_x, px_y, px_size from int_patches_gridded "
            "join stg_naip__images as i using (image_name) order by image_name, px_y, px_x"
        ).fetchall()


def bare_loop(windows: list[tuple[str, int, int, int]]) -> float:
    """Read each window and encode it as JPEG in memory, one thread; patches per second."""
    import numpy as np
    import rasterio
    from PIL import Image
    from rasterio.windows import Window

    start = time.perf_counter()
    for uri, group in itertools.groupby(windows, key=lambda w: w[0]):
        with rasterio.open(uri) as ds:
            for _, x, y, size in group:
                rgb = np.moveaxis(ds.read([1, 2, 3], window=Window(x, y, size, size)), 0, -1)
                buf = io.BytesIO()
                Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(
                    buf, format="JPEG", quality=QUALITY
                )
    return len(windows) / (time.perf_counter() - start)


def fetch_round(path: Path, interval: int, workers: int, limit: int | None = None):
    """A fresh fetch into an empty image cache; the summary."""
    shutil.rmtree(path.parent / "images", ignore_errors=True)
    with Warehouse(path, settings=settings(interval)) as wh:
        wh.con.execute("delete from patch_images")
    summary = fetch_images(
        path, settings=settings(interval), workers=workers, quality=QUALITY, limit=limit
    )
    assert summary.failed == 0 and summary.ok == summary.targets, summary
    return summary


def byte_figures(server: LoopbackServer, path: Path, interval: int, sizes: list[int]) -> str:
    """Bytes the server sent for one window of a fresh image, then for the whole grid."""
    server.reset()
    fetch_round(path, interval, workers=1, limit=1)
    one = server.bytes_sent()
    server.reset()
    whole = fetch_round(path, interval, workers=2)
    sent, total = server.bytes_sent(), sum(sizes)
    return (
        f"interval {interval}: {whole.ok} patches, {sent / whole.ok / 1e3:6.1f} kB per patch, "
        f"{sent / 1e6:5.1f} MB in all = {sent / total:5.1%} of the files; one window of a "
        f"fresh image alone: {one / 1e3:5.1f} kB = {one / sizes[0]:5.2%} of its file"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--copies", type=int, default=4, help="rasters: the sample + copies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cogs = make_cogs(root, args.copies)
        files = sorted(cogs.glob("*.tif"))
        sizes = [f.stat().st_size for f in files]
        with LoopbackServer(cogs, page_size=2) as server:
            server.items = [stac_item(f, server.file_url(f.name), f.stem) for f in files]
            paths, windows = {}, {}
            for interval in (2, 1):
                for side, source in (
                    ("local", LocalSource(cogs)),
                    ("http", StacSource(server.stac_url, "naip")),
                ):
                    path = root / f"{side}{interval}" / "rsteller.duckdb"
                    windows[side, interval] = warehouse(path, source, interval)
                    paths[side, interval] = path
            print(f"sample COG x {len(files)} files ({sum(sizes) / 1e6:.1f} MB); bytes the "
                  "loopback server sent:")
            for interval in (2, 1):
                print("  " + byte_figures(server, paths["http", interval], interval, sizes))

            # throughput on the denser grid (more patches per run, steadier figures)
            local, http = paths["local", 1], paths["http", 1]
            n = len(windows["local", 1])
            print(f"throughput, interval 1 ({n} patches), best of {args.rounds} alternating "
                  "rounds:")
            bare = 0.0
            for workers in args.workers:
                best = {"local": 0.0, "http": 0.0}
                for _ in range(args.rounds):
                    bare = max(bare, bare_loop(windows["local", 1]))
                    for side, path in (("local", local), ("http", http)):
                        summary = fetch_round(path, 1, workers)
                        best[side] = max(best[side], summary.ok / summary.seconds)
                print(
                    f"  images fetch, {workers} worker(s): local {best['local']:6.1f} patches/s "
                    f"(x{best['local'] / bare:.2f} of the bare loop), over HTTP "
                    f"{best['http']:6.1f} patches/s (x{best['http'] / bare:.2f} of the bare "
                    f"loop, x{best['http'] / best['local']:.2f} of local)"
                )
            print(f"  bare loop, 1 thread, local files (rasterio read + Pillow encode): "
                  f"{bare:6.1f} patches/s (baseline)")


if __name__ == "__main__":
    main()
