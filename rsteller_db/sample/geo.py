"""Coordinate helpers for the sample town: NAD83 / UTM zone 18N <-> lon/lat.

The transverse Mercator maths is the Krueger series (third order in the
third flattening), which is accurate to well under a millimetre inside a UTM
zone -- far finer than the 1e-7 degree (about 1 cm) resolution of OSM
coordinates.  Doing it here keeps the sample free of a pyproj dependency and
gives bit-identical results on every platform that has IEEE doubles.
"""

from __future__ import annotations

import math

import numpy as np

EPSG = 26918  # NAD83 / UTM zone 18N
PIXEL_M = 0.6  # NAIP ground sample distance since 2018

_A = 6378137.0  # GRS80 semi-major axis
_F = 1.0 / 298.257222101  # GRS80 flattening
_K0 = 0.9996
_LON0 = math.radians(-75.0)  # central meridian of zone 18
_FALSE_E = 500000.0

_N = _F / (2.0 - _F)
_RECT = _A / (1.0 + _N) * (1.0 + _N**2 / 4.0 + _N**4 / 64.0)
_ALPHA = (
    _N / 2 - 2 * _N**2 / 3 + 5 * _N**3 / 16,
    13 * _N**2 / 48 - 3 * _N**3 / 5,
    61 * _N**3 / 240,
)
_BETA = (
    _N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96,
    _N**2 / 48 + _N**3 / 15,
    17 * _N**3 / 480,
)
_DELTA = (
    2 * _N - 2 * _N**2 / 3 - 2 * _N**3,
    7 * _N**2 / 3 - 8 * _N**3 / 5,
    56 * _N**3 / 15,
)
_E2N = 2.0 * math.sqrt(_N) / (1.0 + _N)  # first eccentricity


def utm_to_lonlat(easting, northing):
    """Convert UTM 18N (NAD83) metres to lon/lat degrees (arrays or scalars)."""
    xi = np.asarray(northing, dtype=np.float64) / (_K0 * _RECT)
    eta = (np.asarray(easting, dtype=np.float64) - _FALSE_E) / (_K0 * _RECT)
    xi_p, eta_p = xi.copy(), eta.copy()
    for j, b in enumerate(_BETA, start=1):
        xi_p -= b * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
        eta_p -= b * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
    chi = np.arcsin(np.sin(xi_p) / np.cosh(eta_p))
    lat = chi.copy()
    for j, d in enumerate(_DELTA, start=1):
        lat += d * np.sin(2 * j * chi)
    lon = _LON0 + np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    return np.degrees(lon), np.degrees(lat)


def lonlat_to_utm(lon, lat):
    """Convert lon/lat degrees to UTM 18N (NAD83) metres (arrays or scalars)."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    dlon = np.radians(np.asarray(lon, dtype=np.float64)) - _LON0
    sin_phi = np.sin(phi)
    t = np.sinh(np.arctanh(sin_phi) - _E2N * np.arctanh(_E2N * sin_phi))
    xi_p = np.arctan2(t, np.cos(dlon))
    eta_p = np.arctanh(np.sin(dlon) / np.sqrt(1.0 + t * t))
    xi, eta = xi_p.copy(), eta_p.copy()
    for j, a in enumerate(_ALPHA, start=1):
        xi += a * np.sin(2 * j * xi_p) * np.cosh(2 * j * eta_p)
        eta += a * np.cos(2 * j * xi_p) * np.sinh(2 * j * eta_p)
    return _FALSE_E + _K0 * _RECT * eta, _K0 * _RECT * xi


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
