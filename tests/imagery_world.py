"""Helpers for the imagery tests: small real GeoTIFFs and a warehouse built up to the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from rsteller_db import stages
from rsteller_db.imagery import IngestResult, ingest_naip
from rsteller_db.imagery.sources import FootprintSource
from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse

GRID_STAGES = ("stg_naip__images", "int_image_partitions_assigned", "int_patches_gridded")
# what the tests compare of each image in stg_naip__images
IMAGE_COLUMNS = "image_name, acquired_on, epsg, gsd_m, width_px, height_px, native_bounds, source"


def write_tif(
    path: Path,
    width: int,
    height: int,
    *,
    gsd: float = 0.6,
    epsg: int | None = 26918,
    x0: float = 500000.0,
    y0: float = 4500000.0,
    bands: int = 4,
    nodata: int | None = None,
    blank_left: int = 0,
    blank_top: int = 0,
    seed: int = 0,
    tags: dict | None = None,
) -> np.ndarray:
    """A tiled uint8 GeoTIFF of smooth waves plus noise (1..254); ``blank_*`` columns/rows are 0."""
    rng = np.random.default_rng(seed)
    y = np.arange(height, dtype=np.float32)[None, :, None]
    x = np.arange(width, dtype=np.float32)[None, None, :]
    b = np.arange(bands, dtype=np.float32)[:, None, None]
    waves = np.sin(x / (23 + 7 * b) + seed + b) * np.cos(y / (31 + 5 * b))
    noise = rng.integers(-2, 3, (bands, height, 1)) + rng.integers(-2, 3, (bands, 1, width))
    data = np.clip(127 + 110 * waves + noise, 1, 254).astype(np.uint8)
    data[:, :, :blank_left] = 0
    data[:, :blank_top, :] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=bands,
        dtype="uint8",
        transform=Affine.translation(x0, y0) @ Affine.scale(gsd, -gsd),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        nodata=nodata,
    )
    if epsg is not None:
        profile["crs"] = f"EPSG:{epsg}"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        if tags:
            ds.update_tags(**tags)
    return data


def open_wh(path: Path, **overrides) -> Warehouse:
    path.parent.mkdir(parents=True, exist_ok=True)
    return Warehouse(path, settings=load_settings(overrides=overrides))


def build_grid(wh: Warehouse, force: bool = False) -> None:
    stages.build(wh, only=GRID_STAGES, force=force)


def grid(wh: Warehouse) -> list[tuple]:
    """(image_name, col, row, px_x, px_y, px_size, patch_id) in image/row/col order."""
    return wh.con.execute(
        'select image_name, col, "row", px_x, px_y, px_size, patch_id from int_patches_gridded '
        'order by image_name, "row", col'
    ).fetchall()


def ingest_grid(wh: Warehouse, source: FootprintSource, *, notices: bool = False) -> IngestResult:
    """Ingest ``source`` and build the patch grid: no input may fail, nor (unless ``notices``)
    be noted."""
    result = ingest_naip(wh, source)
    assert result.failures == []
    if not notices:
        assert result.notices == []
    build_grid(wh)
    return result


def staged_images(wh: Warehouse, columns: str = IMAGE_COLUMNS) -> list[tuple]:
    """``columns`` of stg_naip__images, one row per image in name order."""
    return wh.con.execute(f"select {columns} from stg_naip__images order by image_name").fetchall()


def naip_cli(cli, warehouse: Path | str, source: str, *args: str, quiet: bool = False):
    """``rsteller-db [-q] -w WAREHOUSE ingest naip --source SOURCE ARGS...`` through the ``cli``
    fixture."""
    return cli(*(["-q"] if quiet else []), "-w", str(warehouse), "ingest", "naip",
               "--source", source, *args)
