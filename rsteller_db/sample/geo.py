"""Coordinate helpers for the sample town: NAD83 / UTM zone 18N <-> lon/lat (pyproj), and
NAIP-style names."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from pyproj import Transformer

EPSG = 26918  # NAD83 / UTM zone 18N
PIXEL_M = 0.6  # NAIP ground sample distance since 2018
LONLAT = 4269  # NAD83 geographic: the datum of the image CRS, no datum shift


@cache
def _transformer(source: int, target: int) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def utm_to_lonlat(easting, northing):
    """Convert UTM 18N (NAD83) metres to lon/lat degrees (arrays or scalars)."""
    lon, lat = _transformer(EPSG, LONLAT).transform(np.asarray(easting, dtype=np.float64),
                                                    np.asarray(northing, dtype=np.float64))
    return np.asarray(lon), np.asarray(lat)


def lonlat_to_utm(lon, lat):
    """Convert lon/lat degrees to UTM 18N (NAD83) metres (arrays or scalars)."""
    x, y = _transformer(LONLAT, EPSG).transform(np.asarray(lon, dtype=np.float64),
                                                np.asarray(lat, dtype=np.float64))
    return np.asarray(x), np.asarray(y)


def naip_quarter_quad(lon: float, lat: float) -> str:
    """Name the USGS quarter quadrangle holding a point, NAIP style.

    ``4107563_sw`` = the 1x1 degree cell whose south-east corner is 41N 75W,
    7.5' quadrangle 63 (numbered 01..64 row by row from the north-west), then
    the quarter of that quadrangle.
    """
    lat_cell, lon_cell = math.floor(lat), math.floor(-lon)
    row = 7 - math.floor((lat - lat_cell) * 8)  # 0 = northernmost row
    col = 7 - math.floor((-lon - lon_cell) * 8)  # 0 = westernmost column
    quad = row * 8 + col + 1
    north = (lat * 16) % 2 >= 1
    west = (-lon * 16) % 2 >= 1
    quarter = ("n" if north else "s") + ("w" if west else "e")
    return f"{lat_cell:02d}{lon_cell:03d}{quad:02d}_{quarter}"


def naip_filename(lon: float, lat: float, zone: int = 18, date: str = "20220815") -> str:
    """A NAIP-style file name such as ``m_4107563_sw_18_060_20220815.tif``."""
    return f"m_{naip_quarter_quad(lon, lat)}_{zone}_060_{date}.tif"
