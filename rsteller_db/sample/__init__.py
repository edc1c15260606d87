"""Bundled sample data: a synthetic US town as an OSM PBF plus a matching NAIP-like image.

The town (Millbrook, PA) is laid out once in memory (:mod:`.town`), then
written twice from that same layout: as OpenStreetMap data (:mod:`.pbf`) and
as a 0.6 m RGB GeoTIFF in NAD83 / UTM 18N (:mod:`.raster`), so imagery and
map agree.  Output is a pure function of ``(seed, size_m)``: the same inputs
give byte-identical files.

>>> files = generate_sample(Path("sample"), seed=0)   # doctest: +SKIP
>>> files.pbf.name, files.raster.name                  # doctest: +SKIP
('town.osm.pbf', 'm_4107563_sw_18_060_20220815.tif')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import defaults
from .geo import EPSG, PIXEL_M, naip_filename, utm_to_lonlat
from .town import ORIGIN, build_layout

__all__ = ["SampleFiles", "generate_sample", "PBF_NAME", "EPSG", "PIXEL_M"]

PBF_NAME = "town.osm.pbf"
NAIP_DATE = "20220815"


@dataclass(frozen=True)
class SampleFiles:
    """What :func:`generate_sample` wrote.

    ``counts`` holds the number of OSM elements by kind (``node``, ``way``,
    ``relation``: the values of ``ST_ReadOSM``'s ``kind`` column);
    ``features`` counts features by theme (``building``, ``highway=primary``,
    ``relation:multipolygon``, ...).
    """

    pbf: Path
    raster: Path
    bounds_lonlat: tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat of nodes
    epsg: int = EPSG
    counts: dict[str, int] = field(default_factory=dict, hash=False)
    features: dict[str, int] = field(default_factory=dict, hash=False)


def raster_name(size_m: float = defaults.SAMPLE_SIZE_M) -> str:
    """NAIP-style name of the image: the quarter quad holding the town's centre."""
    lon, lat = utm_to_lonlat(ORIGIN[0] + size_m / 2, ORIGIN[1] + size_m / 2)
    return naip_filename(float(lon), float(lat), zone=18, date=NAIP_DATE)


def generate_sample(out_dir: Path, seed: int = defaults.SAMPLE_SEED,
                    size_m: float = defaults.SAMPLE_SIZE_M) -> SampleFiles:
    """Write ``town.osm.pbf`` and the matching GeoTIFF into ``out_dir`` (created if needed).

    Existing files of the same names are overwritten.
    """
    from .pbf import build_osm, write_pbf
    from .raster import render, write_geotiff

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout = build_layout(seed, size_m)
    osm = build_osm(layout)
    pbf_path = out / PBF_NAME
    write_pbf(osm, pbf_path)
    canvas, grid = render(layout, seed)
    tif_path = out / raster_name(size_m)
    write_geotiff(canvas, grid, tif_path)
    return SampleFiles(pbf=pbf_path, raster=tif_path, bounds_lonlat=osm.bounds, epsg=EPSG,
                       counts=osm.counts, features=layout.feature_counts())
