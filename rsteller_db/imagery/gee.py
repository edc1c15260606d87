"""Earth Engine: the NAIP collection as a footprint source, and patch pixels from it.

``earthengine-api`` is an optional dependency (extra ``gee``), imported only here and only when
used. Tests hand in a fake module through ``ee_module`` (or ``sys.modules['ee']``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from ..errors import InputError
from .records import Failure, ImageRecord, Notice
from .sources import FootprintSource, register

COLLECTION = "USDA/NAIP/DOQQ"
LIST_PAGE = 1000  # images described per listing request (Earth Engine stops at 5,000)
RGB = ("R", "G", "B")
AUTH_HELP = (
    "run `earthengine authenticate` (or `gcloud auth application-default login`) on this "
    "machine, or pass --key-file KEY.json for a service account; --project names the Cloud "
    "project registered for Earth Engine"
)


def import_ee():
    try:
        import ee
    except ImportError as exc:
        raise InputError(
            "the Earth Engine source needs the gee extra: pip install 'rsteller-db[gee]'"
        ) from exc
    return ee


class EarthEngine:
    """A thin wrapper over the ``ee`` module: authentication, listing, pixel requests."""

    def __init__(
        self, project: str | None = None, key_file: str | Path | None = None, ee_module=None
    ):
        self.ee = ee_module or import_ee()
        self.project = project
        self.key_file = Path(key_file) if key_file else None
        self._ready = False
        self._lock = threading.Lock()

    def initialize(self) -> None:
        with self._lock:
            if not self._ready:
                self._initialize()
                self._ready = True

    def _initialize(self) -> None:
        if self.key_file is not None and not self.key_file.is_file():
            raise InputError(
                f"service-account key file {self.key_file} does not exist: fix --key-file"
            )
        try:
            if self.key_file is not None:
                email = json.loads(self.key_file.read_text()).get("client_email")
                creds = self.ee.ServiceAccountCredentials(email, key_file=str(self.key_file))
                self.ee.Initialize(creds, project=self.project)
            else:
                self.ee.Initialize(project=self.project)
        except Exception as exc:  # ee raises EEException, google.auth errors, ValueError, ...
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"Earth Engine is not authenticated ({first}): {AUTH_HELP}") from exc

    def list_images(self, region: dict, start: str, end: str) -> Iterator[dict]:
        """The image descriptions (``getInfo``) of the NAIP images meeting ``region`` (GeoJSON)
        within [start, end), a page of ``LIST_PAGE`` at a time: Earth Engine refuses to
        describe a collection of more than 5,000 elements in one request, and a state holds
        tens of thousands of NAIP images. Sorted by ``system:index`` so pages do not overlap."""
        self.initialize()
        ee = self.ee
        collection = (
            ee.ImageCollection(COLLECTION)
            .filterBounds(ee.Geometry(region))
            .filterDate(start, end)
            .sort("system:index")
        )
        total = int(collection.size().getInfo())
        for offset in range(0, total, LIST_PAGE):
            yield from collection.toList(LIST_PAGE, offset).getInfo()

    def compute_pixels(
        self, image_id: str, epsg: int, x0: float, y0: float, scale_m: float, size_px: int
    ) -> np.ndarray:
        """R, G, B of the ``size_px`` square grid with top-left (x0, y0) in ``EPSG:epsg``,
        as a (size, size, 3) uint8 array."""
        self.initialize()
        request = {
            "expression": self.ee.Image(image_id).select(list(RGB)),
            "fileFormat": "NUMPY_NDARRAY",
            "grid": {
                "dimensions": {"width": size_px, "height": size_px},
                "affineTransform": {
                    "scaleX": scale_m,
                    "shearX": 0,
                    "translateX": x0,
                    "shearY": 0,
                    "scaleY": -scale_m,
                    "translateY": y0,
                },
                "crsCode": f"EPSG:{epsg}",
            },
        }
        data = self.ee.data.computePixels(request)
        return np.stack([np.asarray(data[b], dtype=np.uint8) for b in RGB], axis=-1)


def parse_region(text: str) -> dict:
    """A GeoJSON geometry from ``minlon,minlat,maxlon,maxlat``, a GeoJSON file or GeoJSON text."""
    parts = text.split(",")
    if len(parts) == 4:
        try:
            w, s, e, n = (float(p) for p in parts)
        except ValueError:
            pass
        else:
            if not (w < e and s < n):
                raise InputError(f"--region {text}: a bbox is minlon,minlat,maxlon,maxlat")
            return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    path = Path(text)
    try:
        data = json.loads(path.read_text() if path.is_file() else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"--region {text[:60]}: give minlon,minlat,maxlon,maxlat, a GeoJSON file or text"
        ) from exc
    if data.get("type") == "FeatureCollection":
        geoms = [f["geometry"] for f in data.get("features", [])]
        if len(geoms) != 1:
            raise InputError(f"--region {text[:60]}: the FeatureCollection must hold one feature")
        data = geoms[0]
    if data.get("type") == "Feature":
        data = data["geometry"]
    return data


def _ring_wkt(footprint: dict) -> str:
    coords = footprint["coordinates"]
    ring = coords[0] if footprint.get("type") == "Polygon" else coords
    if ring[0] != ring[-1]:
        ring = [*ring, ring[0]]
    return "POLYGON ((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))"


def image_record(feature: dict, gsd_m: float) -> ImageRecord | Failure | Notice:
    """An ``ImageRecord`` from one collection feature; a ``Notice`` when it is skipped by
    design (no R, G, B at the target GSD), a ``Failure`` when its metadata is unusable."""
    image_id = feature.get("id", "?")
    bands = {b["id"]: b for b in feature.get("bands", [])}
    if not all(b in bands for b in RGB):
        return Notice(image_id, f"skipped: lacks one of the bands {', '.join(RGB)}")
    red = bands["R"]
    sx, shx, tx, shy, sy, ty = red["crs_transform"]
    if (
        shx
        or shy
        or not math.isclose(sx, gsd_m, rel_tol=1e-6)
        or not math.isclose(-sy, sx, rel_tol=1e-6)
    ):
        return Notice(image_id, f"skipped: R, G, B are not {gsd_m} m north-up pixels")
    if any(bands[b]["crs_transform"] != red["crs_transform"] for b in RGB):
        return Failure(image_id, "R, G, B bands are on different grids")
    crs = red.get("crs", "")
    if not crs.upper().startswith("EPSG:"):
        return Failure(image_id, f"CRS {crs!r} is not an EPSG code")
    width, height = red["dimensions"]
    props = feature.get("properties", {})
    footprint = props.get("system:footprint")
    if not footprint:
        return Failure(image_id, "has no system:footprint")
    start = props.get("system:time_start")
    acquired = datetime.fromtimestamp(start / 1000, tz=UTC).date() if start is not None else None
    return ImageRecord(
        image_name=image_id.rsplit("/", 1)[-1],
        source="gee",
        uri=image_id,
        acquired_on=acquired,
        date_from="gee" if acquired else None,
        epsg=int(crs.split(":")[1]),
        gsd_m=float(sx),
        width_px=int(width),
        height_px=int(height),
        band_count=len(bands),
        xmin=tx,
        ymin=ty + height * sy,
        xmax=tx + width * sx,
        ymax=ty,
        footprint_wkt=_ring_wkt(footprint),
        footprint_crs="EPSG:4326",
        details={"version": props.get("system:version")},
    )


@register
class GeeSource(FootprintSource):
    """NAIP images of ``USDA/NAIP/DOQQ`` meeting a region within a date range."""

    name = "gee"

    def __init__(
        self,
        region: str,
        start: str | date,
        end: str | date,
        *,
        gsd_m: float = 0.6,
        project: str | None = None,
        key_file: str | None = None,
        ee_module=None,
    ):
        self.region_text = region
        self.region = parse_region(region)
        self.start, self.end = str(start), str(end)
        self.gsd_m = gsd_m
        self.client = EarthEngine(project, key_file, ee_module)

    @classmethod
    def from_options(cls, target, options, settings) -> GeeSource:
        missing = [f"--{k}" for k in ("region", "start", "end") if not options.get(k)]
        if missing:
            raise InputError(
                f"--source gee needs {', '.join(missing)}: e.g. --region "
                "-75.1,40.6,-74.9,40.8 --start 2022-01-01 --end 2023-01-01"
            )
        return cls(
            options["region"],
            options["start"],
            options["end"],
            gsd_m=float(settings["gsd_m"]),
            project=options.get("project"),
            key_file=options.get("key_file"),
        )

    @property
    def label(self) -> str:
        return f"{COLLECTION} {self.start}..{self.end}"

    @property
    def uri(self) -> str:
        return f"ee://{COLLECTION}?region={json.dumps(self.region, separators=(',', ':'))}"

    def scan(self, con) -> Iterator[ImageRecord | Failure | Notice]:
        for feature in self.client.list_images(self.region, self.start, self.end):
            yield image_record(feature, self.gsd_m)
