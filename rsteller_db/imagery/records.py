"""What a footprint source yields: one ``ImageRecord`` per usable image, or a ``Failure``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ImageRecord:
    """One row of ``raw.naip_images``: where an image is, its pixel grid and its valid area.

    The pixel grid is north-up with square pixels: pixel (0, 0) has its top-left corner at
    (``xmin``, ``ymax``) in ``EPSG:epsg`` and each pixel is ``gsd_m`` metres on a side.
    ``footprint_wkt`` is the valid-data polygon in ``footprint_crs`` (the image CRS for local
    rasters, EPSG:4326 for Earth Engine and most footprint indexes).
    """

    image_name: str
    source: str  # local | index | gee
    uri: str
    acquired_on: date | None
    date_from: str | None  # name | tiff_tag | index | gee
    epsg: int
    gsd_m: float
    width_px: int
    height_px: int
    band_count: int
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    footprint_wkt: str
    footprint_crs: str
    size_bytes: int | None = None
    details: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """The fields that change what the grid and the pixels would be."""
        return "|".join(
            str(v)
            for v in (
                self.image_name,
                self.source,
                self.uri,
                self.acquired_on,
                self.epsg,
                self.gsd_m,
                self.width_px,
                self.height_px,
                self.xmin,
                self.ymax,
                self.size_bytes,
                self.details.get("mtime_ns"),
                self.footprint_wkt,
            )
        )


@dataclass(frozen=True)
class _Remark:
    """Something said about one input, printed as ``uri: message`` (the message names it)."""

    uri: str
    message: str

    def __str__(self) -> str:
        return f"{self.uri}: {self.message}"


class Failure(_Remark):
    """An input that could not be ingested, and why."""


class Notice(_Remark):
    """A non-fatal note about one input (e.g. no acquisition date found)."""
