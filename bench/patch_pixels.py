"""Benchmark: `images fetch` (plan, threaded read + JPEG encode, file writes, batched commits)
against a bare loop that only reads the same windows with rasterio and encodes them with
Pillow in memory, one thread, in the same run, on the sample COG (0.6 m, 3 bands, EPSG:26918,
JPEG-compressed 512 px tiles) and copies of it moved 10 km apart (4 files by default).

The grid uses sample_interval 1 for more patches (144 per file). Each side runs ``--rounds``
times, alternating, and keeps its best round; the figure is fetch / bare-loop throughput.

    python bench/patch_pixels.py              # 4 files, workers 1 and 2, 3 rounds
    python bench/patch_pixels.py --rounds 1 --copies 1   # quicker
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rsteller_db import stages  # noqa: E402
from rsteller_db.imagery import LocalSource, fetch_images, ingest_naip  # noqa: E402
from rsteller_db.sample import generate_sample  # noqa: E402
from rsteller_db.settings import load_settings  # noqa: E402
from rsteller_db.warehouse import Warehouse  # noqa: E402

QUALITY = 90


def prepare(root: Path, copies: int) -> tuple[Path, list[tuple[str, int, int, int]]]:
    """The sample COG plus ``copies - 1`` byte copies moved 10 km east each (so the overlap rule
    keeps all their patches), ingested and gridded; returns the warehouse and the windows."""
    import rasterio
    from affine import Affine

    files = generate_sample(root / "sample", seed=0)
    for i in range(1, copies):
        copy = files.raster.with_name(f"sample_copy{i}.tif")
        shutil.copyfile(files.raster, copy)
        with rasterio.open(copy, "r+") as ds:
            ds.transform = Affine.translation(10_000.0 * i, 0) @ ds.transform
    settings = load_settings(overrides={"sample_interval": 1})
    path = root / "wh" / "rsteller.duckdb"
    path.parent.mkdir(parents=True)
    with Warehouse(path, settings=settings) as wh:
        ingest_naip(wh, LocalSource(files.raster.parent))
        stages.build(wh, only=("stg_naip__images", "int_patches_gridded"))
        windows = wh.con.execute(
            "select i.uri, px_x, px_y, px_size from int_patches_gridded "
            "join stg_naip__images as i using (image_name) order by image_name, px_y, px_x"
        ).fetchall()
    return path, windows


def bare_loop(windows: list[tuple[str, int, int, int]]) -> float:
    """Read each window and encode it as JPEG in memory, one thread; patches per second."""
    import itertools

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


def fetch_round(path: Path, workers: int) -> tuple[float, float]:
    """A fresh full fetch: (patches/s over the whole call, patches/s of the fetch phase, i.e.
    without opening the warehouse and planning)."""
    shutil.rmtree(path.parent / "images", ignore_errors=True)
    with Warehouse(path, settings=load_settings(overrides={"sample_interval": 1})) as wh:
        wh.con.execute("delete from patch_images")
    start = time.perf_counter()
    summary = fetch_images(
        path,
        settings=load_settings(overrides={"sample_interval": 1}),
        workers=workers,
        quality=QUALITY,
    )
    seconds = time.perf_counter() - start
    assert summary.failed == 0 and summary.ok == summary.targets, summary
    return summary.ok / seconds, summary.ok / summary.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--copies", type=int, default=4, help="rasters: the sample + copies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, windows = prepare(Path(tmp), args.copies)
        print(
            f"sample COG x {args.copies} files: {len(windows)} patches of 448 x 448 px, "
            f"best of {args.rounds} alternating rounds"
        )
        bare = max(bare_loop(windows) for _ in range(args.rounds))
        for workers in args.workers:
            whole = phase = 0.0
            for _ in range(args.rounds):
                w, p = fetch_round(path, workers)
                whole, phase = max(whole, w), max(phase, p)
                bare = max(bare, bare_loop(windows))
            print(
                f"images fetch, {workers} worker(s): {phase:7.1f} patches/s fetch phase "
                f"(ratio {phase / bare:.2f}), {whole:7.1f} patches/s whole call "
                f"(ratio {whole / bare:.2f})"
            )
        print(
            f"bare loop, 1 thread (rasterio read + Pillow encode): {bare:7.1f} patches/s "
            "(baseline; target: fetch >= 0.80 of it)"
        )


if __name__ == "__main__":
    main()
