"""Sparse NAIP-style GeoTIFFs tiling the region of ``bench/osm_synth.py``, for ``bench/scale.py``.

Each image is 5,800 x 7,000 px at 0.6 m with three bands, in the NAD83 UTM zone of its centre
(EPSG:269zz), and overlaps its neighbours by 300 m on every side, as NAIP quarter quads do.
The files are tiled and *sparse* (GDAL's SPARSE_OK: no tile is written), so each holds a few
kilobytes however large the grid; without a nodata value or mask, ``ingest naip --source
local`` takes the bounds as footprint without reading a pixel. One file is written at a time,
so memory stays flat. Names follow NAIP's shape, ``m_<block>_<col>_<row>_<zone>_060_<date>``,
with acquisition dates spread over RSTeller's span (2021-08-01 .. 2022-11-26).

    python bench/naip_synth.py OUT_DIR --nodes 10000000
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from osm_synth import CELL_M, LAT0, LON0, M_PER_DEG_LAT, M_PER_DEG_LON, grid_side  # noqa: E402

WIDTH_PX, HEIGHT_PX, GSD_M = 5800, 7000, 0.6
OVERLAP_M = 300.0
FIRST_DAY, SPAN_DAYS = date(2021, 8, 1), (date(2022, 11, 26) - date(2021, 8, 1)).days


def _utm(lon: float, lat: float) -> tuple[int, float, float]:
    from pyproj import Transformer

    zone = int((lon + 180) // 6) + 1
    epsg = 26900 + zone
    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    return epsg, x, y


def image_grid(target_nodes: int) -> list[tuple[str, int, float, float, date]]:
    """(name, epsg, x0, y0, acquired_on) of each image: its top-left corner in its UTM zone."""
    side_m = grid_side(target_nodes) * CELL_M
    step_x, step_y = WIDTH_PX * GSD_M - OVERLAP_M, HEIGHT_PX * GSD_M - OVERLAP_M
    cols, rows = math.ceil(side_m / step_x), math.ceil(side_m / step_y)
    out = []
    for i in range(cols):
        for j in range(rows):
            cx = (i + 0.5) * step_x
            cy = (j + 0.5) * step_y
            lon, lat = LON0 + cx / M_PER_DEG_LON, LAT0 + cy / M_PER_DEG_LAT
            epsg, x, y = _utm(lon, lat)
            x0 = round((x - WIDTH_PX * GSD_M / 2) / GSD_M) * GSD_M
            y0 = round((y + HEIGHT_PX * GSD_M / 2) / GSD_M) * GSD_M
            day = FIRST_DAY + timedelta(days=(i * 37 + j * 11) % (SPAN_DAYS + 1))
            block = f"{int(math.floor(lat)):02d}{int(math.floor(-lon)):03d}"
            name = f"m_{block}_{i:03d}_{j:03d}_{epsg - 26900}_060_{day:%Y%m%d}"
            out.append((name, epsg, x0, y0, day))
    return out


def generate(folder: str | Path, target_nodes: int) -> Path:
    """Write the sparse images of the region of ``target_nodes`` nodes into ``folder``."""
    import rasterio
    from affine import Affine

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, epsg, x0, y0, day in image_grid(target_nodes):
        path = folder / f"{name}.tif"
        if path.exists():
            continue
        tmp = path.with_name(path.name + ".part")
        with rasterio.open(tmp, "w", driver="GTiff", width=WIDTH_PX, height=HEIGHT_PX, count=3,
                           dtype="uint8", crs=f"EPSG:{epsg}",
                           transform=Affine.translation(x0, y0) @ Affine.scale(GSD_M, -GSD_M),
                           tiled=True, blockxsize=512, blockysize=512, sparse_ok=True) as ds:
            ds.update_tags(TIFFTAG_DATETIME=f"{day:%Y:%m:%d} 12:00:00")
        tmp.replace(path)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--nodes", type=int, default=10_000_000)
    args = parser.parse_args()
    generate(args.out, args.nodes)
    print(args.out)


if __name__ == "__main__":
    main()
