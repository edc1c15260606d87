"""Reading a raster's header and valid-data footprint with rasterio.

The footprint is conservative: the raster is cut into cells of ``FOOTPRINT_CELL_PX`` pixels and
a cell counts as valid only when every pixel in it is valid (some band not nodata, or the
internal mask says so). Holes inside the valid area are filled: a black roof in a raster whose
nodata value is 0 is not a gap in the image. A raster with no nodata value and no mask is valid
everywhere, and its footprint is its bounds (no pixels are read).
"""

from __future__ import annotations

import math
import os
import warnings
from datetime import date, datetime
from pathlib import Path

from . import remote
from .naming import parse_naip_name
from .records import Failure, ImageRecord, Notice

FOOTPRINT_CELL_PX = 8
_STRIP_CELLS = 64  # rows of cells read per mask strip


class RasterProblem(Exception):
    """Why a raster cannot be used (turned into a ``Failure`` naming the file)."""


def _tiff_date(tags: dict[str, str]) -> date | None:
    value = tags.get("TIFFTAG_DATETIME") or tags.get("ACQUISITION_DATE")
    if not value:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y%m%d"):
        try:
            return datetime.strptime(value.strip()[:19], fmt).date()
        except ValueError:
            continue
    return None


def acquisition_date(name: str, tags: dict[str, str]) -> tuple[date | None, str | None]:
    """The date from the NAIP name, else from TIFF tags, else (None, None)."""
    parsed = parse_naip_name(name)
    if parsed is not None:
        return parsed.acquired_on, "name"
    found = _tiff_date(tags)
    return (found, "tiff_tag") if found else (None, None)


def check_grid(transform, crs, count: int, dtypes) -> tuple[int, float]:
    """(epsg, gsd_m) of a usable raster, or raise ``RasterProblem`` saying what is wrong.
    ``dtypes`` None: the band types are not known (a STAC item that does not list them)."""
    if crs is None:
        raise RasterProblem("has no CRS (georeference it, e.g. gdal_edit.py -a_srs EPSG:269xx)")
    epsg = crs.to_epsg()
    if epsg is None:
        raise RasterProblem(f"its CRS is not an EPSG code ({crs.to_string()[:80]})")
    if not crs.is_projected or (crs.linear_units or "").lower() not in ("metre", "meter"):
        raise RasterProblem(
            f"its CRS EPSG:{epsg} is not projected in metres; warp it to its UTM zone first"
        )
    if count < 3:
        raise RasterProblem(f"has {count} band(s); 3 (red, green, blue) are needed")
    if dtypes is not None and any(str(d) != "uint8" for d in list(dtypes)[:3]):
        raise RasterProblem(f"bands 1-3 are {dtypes[0]}; only 8-bit (uint8) imagery is supported")
    if transform.b != 0 or transform.d != 0:
        raise RasterProblem("is rotated or sheared; only north-up rasters are supported")
    if transform.e >= 0 or not math.isclose(transform.a, -transform.e, rel_tol=1e-6):
        raise RasterProblem(
            f"has non-square or south-up pixels ({transform.a} x {transform.e}); warp it first"
        )
    return epsg, float(transform.a)


def valid_footprint(ds):
    """The conservative valid-data polygon of an open dataset, in its CRS (shapely)."""
    from affine import Affine
    from rasterio.enums import MaskFlags
    from rasterio.errors import NodataShadowWarning
    from shapely.geometry import box

    bounds = box(*ds.bounds)
    if all(MaskFlags.all_valid in ds.mask_flag_enums[i] for i in range(3)):
        return bounds
    import numpy as np
    from rasterio.features import shapes
    from rasterio.windows import Window
    from shapely.geometry import Polygon, shape
    from shapely.ops import unary_union

    cell = FOOTPRINT_CELL_PX
    ny, nx = math.ceil(ds.height / cell), math.ceil(ds.width / cell)
    valid = np.zeros((ny, nx), dtype=bool)
    strip = cell * _STRIP_CELLS
    for y0 in range(0, ds.height, strip):
        rows = min(strip, ds.height - y0)
        with warnings.catch_warnings():  # a 4th (near-infrared) band is not an alpha band
            warnings.simplefilter("ignore", NodataShadowWarning)
            masks = ds.read_masks([1, 2, 3], window=Window(0, y0, ds.width, rows))
        good = (masks > 0).any(axis=0)
        pad_y, pad_x = -rows % cell, -ds.width % cell
        if pad_y or pad_x:  # pixels beyond the raster do not spoil a cell; bounds clip them
            good = np.pad(good, ((0, pad_y), (0, pad_x)), constant_values=True)
        cells = good.reshape(good.shape[0] // cell, cell, nx, cell).all(axis=(1, 3))
        valid[y0 // cell : y0 // cell + cells.shape[0]] = cells
    if not valid.any():
        raise RasterProblem("has no valid pixels (everything is nodata)")
    parts = [
        Polygon(shape(geom).exterior)
        for geom, value in shapes(
            valid.astype("uint8"), mask=valid, transform=ds.transform @ Affine.scale(cell)
        )
        if value
    ]
    return unary_union(parts).intersection(bounds)


def _check_readable(ds) -> None:
    """Read the last pixel: a truncated file fails here instead of during the fetch."""
    from rasterio.windows import Window

    ds.read([1, 2, 3], window=Window(ds.width - 1, ds.height - 1, 1, 1))


def read_raster(
    path: str | os.PathLike,
    *,
    source: str = "local",
    name: str | None = None,
    footprint: bool = True,
    gdal: dict | None = None,
) -> tuple[ImageRecord | Failure, list[Notice]]:
    """Header and footprint of one raster (a path or a URL), or a ``Failure`` naming it; plus
    any notices.

    ``footprint=False`` takes the bounds as footprint without reading the mask (the caller
    has a better one, e.g. from a footprint index). ``gdal``: GDAL settings, by default
    ``remote.gdal_options()`` (a URL is read by ranges, with no directory listing).
    """
    import rasterio
    from rasterio.errors import RasterioError

    uri = str(path)
    name = name or Path(uri).name.split(".")[0]
    notes: list[Notice] = []
    try:
        with rasterio.Env(**(gdal or remote.gdal_options())), rasterio.open(uri) as ds:
            epsg, gsd = check_grid(ds.transform, ds.crs, ds.count, ds.dtypes)
            _check_readable(ds)
            area = valid_footprint(ds) if footprint else _bounds_box(ds)
            acquired, date_from = acquisition_date(name, ds.tags())
            left, bottom, right, top = ds.bounds
            record = ImageRecord(
                image_name=name,
                source=source,
                uri=uri,
                acquired_on=acquired,
                date_from=date_from,
                epsg=epsg,
                gsd_m=gsd,
                width_px=ds.width,
                height_px=ds.height,
                band_count=ds.count,
                xmin=left,
                ymin=bottom,
                xmax=right,
                ymax=top,
                footprint_wkt=area.wkt,
                footprint_crs=f"EPSG:{epsg}",
                size_bytes=_size(uri),
                details={"mtime_ns": _mtime(uri), "driver": ds.driver},
            )
    except RasterProblem as exc:
        return Failure(uri, str(exc)), notes
    except (RasterioError, OSError, ValueError) as exc:
        text = remote.error_text(exc) if str(exc) else type(exc).__name__
        return Failure(
            uri, f"cannot read it (not a GeoTIFF, truncated or unreadable): {text}"
        ), notes
    if acquired is None:
        notes.append(Notice(uri, "no acquisition date (not a NAIP name, no TIFF date tag)"))
    return record, notes


def _bounds_box(ds):
    from shapely.geometry import box

    return box(*ds.bounds)


def _size(uri: str) -> int | None:
    try:
        return os.path.getsize(uri)
    except OSError:
        return None


def _mtime(uri: str) -> int | None:
    try:
        return os.stat(uri).st_mtime_ns
    except OSError:
        return None
