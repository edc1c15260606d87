"""Big warehouses for the caption benchmarks, built with the real stages.

A synthetic OSM extract of the chosen size (``bench/osm_synth.py``: a grid of 200 m town cells
from 41 N, 75 W) and NAIP-style rasters that cover it: one GeoTIFF per USGS quarter quadrangle
the grid touches, at NAIP's real size (about 8,800 x 11,600 pixels at 0.6 m, NAD83 / UTM 18N),
written sparse (no tiles stored: every pixel reads as 0), so a thousand of them take a few
megabytes. The footprint of a raster without nodata is its bounds, so ``ingest naip --source
local`` reads headers only. Then ``rsteller-db init``, ``ingest osm``, ``ingest naip`` and
``build`` run as a user would run them, with the settings given (``sample_interval``,
``revisions_per_patch``...). Everything is written under ``--cache`` and reused when present; a
reused warehouse is brought up to date first (``rsteller-db build``, which rebuilds only the
stages whose SQL or inputs changed).

    python bench/scale_world.py --nodes 1000000 --set sample_interval=1
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import osm_synth  # noqa: E402

from rsteller_db.sample.geo import EPSG, PIXEL_M, lonlat_to_utm, naip_filename  # noqa: E402

QUARTER_DEG = 3.75 / 60  # a NAIP DOQQ spans 3.75' x 3.75'
MARGIN_M = 60.0  # DOQQs overlap their neighbours a little
DEFAULT_CACHE = Path("/work/cache/caption_scale")


def grid_extent(nodes: int) -> tuple[float, float, float, float]:
    """lon/lat bounds of the grid ``osm_synth.generate(nodes)`` lays out."""
    side_m = osm_synth.grid_side(nodes) * osm_synth.CELL_M
    return (
        osm_synth.LON0,
        osm_synth.LAT0,
        osm_synth.LON0 + side_m / osm_synth.M_PER_DEG_LON,
        osm_synth.LAT0 + side_m / osm_synth.M_PER_DEG_LAT,
    )


def write_rasters(folder: Path, nodes: int) -> int:
    """One sparse NAIP-sized GeoTIFF per quarter quadrangle over the grid; returns the count."""
    import rasterio
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    lon0, lat0, lon1, lat1 = grid_extent(nodes)
    written = 0
    for i in range(math.ceil((lon1 - lon0) / QUARTER_DEG)):
        for j in range(math.ceil((lat1 - lat0) / QUARTER_DEG)):
            w, s = lon0 + i * QUARTER_DEG, lat0 + j * QUARTER_DEG
            e, n = w + QUARTER_DEG, s + QUARTER_DEG
            xs, ys = lonlat_to_utm([w, e, e, w], [s, s, n, n])
            x0 = math.floor((min(xs) - MARGIN_M) / PIXEL_M) * PIXEL_M
            y1 = math.ceil((max(ys) + MARGIN_M) / PIXEL_M) * PIXEL_M
            width = math.ceil((max(xs) + MARGIN_M - x0) / PIXEL_M)
            height = math.ceil((y1 - min(ys) + MARGIN_M) / PIXEL_M)
            path = folder / naip_filename(w + QUARTER_DEG / 2, s + QUARTER_DEG / 2)
            written += 1
            if path.exists():
                continue
            with rasterio.open(
                path.with_suffix(".part"), "w", driver="GTiff", width=width, height=height,
                count=3, dtype="uint8", crs=f"EPSG:{EPSG}",
                transform=from_origin(x0, y1, PIXEL_M, PIXEL_M),
                tiled=True, blockxsize=512, blockysize=512, compress="deflate", sparse_ok=True,
            ):
                pass
            path.with_suffix(".part").rename(path)
    return written


def build(cache: Path, nodes: int, settings: dict[str, object], quiet: bool = True) -> Path:
    """The warehouse for ``nodes`` OSM nodes and ``settings``, built once and reused."""
    tag = f"n{nodes}" + "".join(f"_{k}{v}" for k, v in sorted(settings.items()))
    folder = cache / tag
    warehouse = folder / "warehouse.duckdb"
    done = folder / "built.json"
    config = folder / "rsteller.toml"
    cli = [sys.executable, "-m", "rsteller_db", "-q", "--config", str(config), "-w", str(warehouse)]
    if done.exists():  # brought up to date: an incremental build rebuilds what changed since
        subprocess.run([*cli, "build"], check=True, cwd=folder, stdout=subprocess.DEVNULL)
        return warehouse
    folder.mkdir(parents=True, exist_ok=True)
    pbf = cache / f"synth_{nodes}.osm.pbf"
    timings = {}
    t0 = time.perf_counter()
    if not pbf.exists():
        osm_synth.generate(pbf, nodes, progress=not quiet)
    timings["pbf_s"] = time.perf_counter() - t0
    rasters = cache / f"naip_{nodes}"
    t0 = time.perf_counter()
    images = write_rasters(rasters, nodes)
    timings["rasters_s"] = time.perf_counter() - t0
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    if warehouse.exists():
        warehouse.unlink()
    for name, args in (
        ("init", ["init"]),
        ("ingest_osm", ["ingest", "osm", str(pbf)]),
        ("ingest_naip", ["ingest", "naip", "--source", "local", str(rasters)]),
        ("build", ["build"]),
    ):
        t0 = time.perf_counter()
        subprocess.run([*cli, *args], check=True, cwd=folder, stdout=subprocess.DEVNULL)
        timings[f"{name}_s"] = round(time.perf_counter() - t0, 1)
    done.write_text(json.dumps({"nodes": nodes, "images": images, "settings": settings,
                                "timings": timings}, indent=1))
    return warehouse


def _setting(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--set", dest="settings", action="append", type=_setting, default=[],
                        metavar="KEY=VALUE", help="a setting for the build (repeatable)")
    args = parser.parse_args()
    path = build(args.cache, args.nodes, dict(args.settings), quiet=False)
    print(path)
    print((path.parent / "built.json").read_text())


if __name__ == "__main__":
    main()
