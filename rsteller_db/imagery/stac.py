"""A STAC API as a footprint source (Planetary Computer's ``naip``, or any STAC API).

``pystac-client`` (extra ``stac``) searches the API and follows its ``next`` links through
every page. Each item becomes one image:

- name: the item id (checked like every image name, in ``ingest.collect``);
- footprint: the item geometry (EPSG:4326, as STAC requires);
- date: the item's ``datetime`` (else ``start_datetime``);
- raster: the href of one asset (``--asset``, ``image`` for NAIP), stored unsigned;
- pixel grid: from the projection extension (``proj:code`` or ``proj:epsg``,
  ``proj:transform``, ``proj:shape``, on the asset or the item) and the asset's band list,
  so no raster is opened; only when one of those is missing is the asset's header read.

An item that cannot be used (no such asset, a grid that is not north-up metres, a CRS that
puts the grid away from the footprint, an unreadable header) is a ``Failure`` with the reason;
an API that cannot be reached stops the ingest before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import date, datetime
from urllib.parse import urlencode, urljoin

from ..errors import InputError
from . import remote
from .rasters import RasterProblem, check_grid, read_raster
from .records import Failure, ImageRecord, Notice
from .sources import FootprintSource, register

PAGE_SIZE = 100  # items asked for per page (the API may send fewer)
BAND_KEYS = ("bands", "eo:bands", "raster:bands")


def import_pystac_client():
    try:
        import pystac_client
    except ImportError as exc:
        raise InputError(
            "--source stac needs the stac extra: pip install 'rsteller-db[stac]'"
        ) from exc
    return pystac_client


def parse_bbox(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise InputError(f"--bbox {text}: give minlon,minlat,maxlon,maxlat")
    return box


def _shown(item_id: object) -> str:
    text = str(item_id).encode("unicode_escape", "backslashreplace").decode("ascii")
    return "STAC item " + (text if len(text) <= 120 else text[:120] + "...")


def _acquired(props: dict) -> date | None:
    value = props.get("datetime") or props.get("start_datetime")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _field(asset: dict, props: dict, key: str):
    """A projection field: the asset's value overrides the item's."""
    return asset.get(key, props.get(key))


def _bands(asset: dict, props: dict) -> list | None:
    for key in BAND_KEYS:
        bands = _field(asset, props, key)
        if isinstance(bands, list) and bands:
            return bands
    return None


def _crs_code(asset: dict, props: dict) -> str | None:
    code = _field(asset, props, "proj:code")
    if isinstance(code, str) and code:
        return code
    epsg = _field(asset, props, "proj:epsg")
    return f"EPSG:{epsg}" if isinstance(epsg, int) and not isinstance(epsg, bool) else None


def _footprint(geometry) -> object:
    """The item geometry as a shapely (multi)polygon, or raise ``RasterProblem``."""
    import shapely.geometry

    try:
        shape = shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise RasterProblem(f"has an unreadable geometry ({type(exc).__name__})") from None
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise RasterProblem(f"its geometry is a {shape.geom_type}, not a polygon")
    if not shape.is_valid:
        raise RasterProblem("its geometry is not a valid polygon")
    return shape


def grid_from_projection(asset: dict, props: dict, footprint) -> dict | None:
    """The pixel-grid fields of an ``ImageRecord`` from the projection extension, or None when
    a field is missing (then the header is read). Raises ``RasterProblem`` when the fields are
    there but unusable, including a CRS that puts the grid away from the footprint."""
    from affine import Affine
    from pyproj import Transformer
    from pyproj.exceptions import CRSError
    from rasterio.crs import CRS
    from shapely.geometry import box

    code, transform, shape = (
        _crs_code(asset, props),
        _field(asset, props, "proj:transform"),
        _field(asset, props, "proj:shape"),
    )
    bands = _bands(asset, props)
    if code is None or transform is None or shape is None or bands is None:
        return None
    numbers = (int, float)
    if (
        not isinstance(transform, list)
        or len(transform) not in (6, 9)
        or not all(isinstance(v, numbers) and math.isfinite(v) for v in transform)
    ):
        raise RasterProblem(f"proj:transform {str(transform)[:80]} is not 6 or 9 numbers")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(isinstance(v, int) and v > 0 for v in shape)
    ):
        raise RasterProblem(f"proj:shape {str(shape)[:80]} is not [rows, columns]")
    try:
        crs = CRS.from_user_input(code)
    except Exception:  # rasterio's CRSError, or ValueError for odd input
        raise RasterProblem(f"CRS {code[:60]!r} is not one PROJ knows") from None
    grid = Affine(*transform[:6])
    types = [b.get("data_type") for b in bands if isinstance(b, dict)]
    dtypes = types if len(types) == len(bands) and all(types) else None
    epsg, gsd = check_grid(grid, crs, len(bands), dtypes)
    height, width = shape
    xmin, ymax = grid.c, grid.f
    xmax, ymin = xmin + width * grid.a, ymax + height * grid.e
    try:
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lonlat = box(*to_lonlat.transform_bounds(xmin, ymin, xmax, ymax))
    except (CRSError, ValueError, ArithmeticError) as exc:
        raise RasterProblem(f"its grid in EPSG:{epsg} cannot be located ({exc})") from None
    if not lonlat.intersects(footprint):
        raise RasterProblem(
            f"its grid in EPSG:{epsg} (proj:code/proj:epsg) lies away from its geometry: "
            "the item's CRS is wrong"
        )
    return dict(
        epsg=epsg,
        gsd_m=gsd,
        width_px=width,
        height_px=height,
        band_count=len(bands),
        xmin=xmin,
        ymin=ymin,
        xmax=xmax,
        ymax=ymax,
    )


@register
class StacSource(FootprintSource):
    """Items of one collection of a STAC API, within a bbox and a datetime range."""

    name = "stac"

    def __init__(
        self,
        url: str,
        collection: str,
        *,
        bbox: str | None = None,
        datetime_range: str | None = None,
        asset: str = "image",
        sign: str | None = None,
        page_size: int = PAGE_SIZE,
        timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.5,
    ):
        self.url, self.collection, self.asset = url, collection, asset
        self.bbox = parse_bbox(bbox)
        self.datetime_range = datetime_range
        self.sign_name = sign
        self.sign = remote.signer(sign)  # a missing extra stops here
        self.page_size = page_size
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.client = self._open()
        self._search = None

    @classmethod
    def from_options(cls, target, options, settings) -> StacSource:
        if not options.get("url"):
            raise InputError(
                "--source stac needs --url: e.g. --url "
                "https://planetarycomputer.microsoft.com/api/stac/v1 --collection naip "
                "--bbox -75.1,40.6,-74.9,40.8 --datetime 2021-08-01/2022-11-30"
            )
        return cls(
            options["url"],
            options.get("collection") or "naip",
            bbox=options.get("bbox"),
            datetime_range=options.get("datetime"),
            asset=options.get("asset") or "image",
            sign=options.get("sign"),
        )

    def _failed(self, what: str, exc: BaseException) -> InputError:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        return InputError(
            f"cannot {what} the STAC API at {self.url} ({first}): check --url and the network"
        )

    def _open(self):
        pystac_client = import_pystac_client()
        from pystac_client.stac_api_io import StacApiIO
        from urllib3.util.retry import Retry

        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # POST searches too
        )
        io = StacApiIO(timeout=self.timeout_s, max_retries=retry)
        try:
            return pystac_client.Client.open(self.url, stac_io=io)
        except Exception as exc:  # APIError, or pystac's errors for a reply that is not STAC
            raise self._failed("open", exc) from exc

    def _item_search(self):
        if self._search is None:
            self._search = self.client.search(
                collections=[self.collection],
                bbox=self.bbox,
                datetime=self.datetime_range,
                limit=self.page_size,
            )
        return self._search

    @property
    def label(self) -> str:
        return f"{self.collection} {self.datetime_range or ''}".strip()

    @property
    def uri(self) -> str:
        query = {"collections": self.collection, "asset": self.asset}
        if self.bbox:
            query["bbox"] = ",".join(f"{v:g}" for v in self.bbox)
        if self.datetime_range:
            query["datetime"] = self.datetime_range
        return f"{self.url.rstrip('/')}/search?{urlencode(query)}"

    def count(self, con) -> int | None:
        import warnings

        try:
            with warnings.catch_warnings():  # an API without counts: a bar without a total
                warnings.simplefilter("ignore")
                return self._item_search().matched()
        except Exception as exc:
            raise self._failed("search", exc) from exc

    def scan(self, con) -> Iterator[ImageRecord | Failure | Notice]:
        pages = self._item_search().pages_as_dicts()
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as exc:  # a page that fails after retries stops the whole ingest
                raise self._failed("search", exc) from exc
            for item in page.get("features") or []:
                yield from self.item_record(item)

    # -- one item -------------------------------------------------------------------------
    def item_record(self, item: object) -> Iterator[ImageRecord | Failure | Notice]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            yield Failure("STAC item ?", "is not a STAC item with an id")
            return
        item_id, shown = item["id"], _shown(item["id"])
        props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
        assets = item.get("assets") if isinstance(item.get("assets"), dict) else {}
        asset = assets.get(self.asset)
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            keys = ", ".join(sorted(map(str, assets))) or "none"
            yield Failure(
                shown, f"has no asset {self.asset!r} (its assets: {keys}): choose one with --asset"
            )
            return
        href = self._absolute(asset["href"], item)
        if not remote.is_url(href):
            yield Failure(shown, f"asset href {href[:120]!r} is not an http(s) or s3 URL")
            return
        acquired = _acquired(props)
        try:
            footprint = _footprint(item.get("geometry"))
            grid = grid_from_projection(asset, props, footprint)
        except RasterProblem as exc:
            yield Failure(shown, str(exc))
            return
        details = {"asset": self.asset, "grid_from": "proj" if grid else "header"}
        if self.sign_name:
            details["sign"] = self.sign_name
        if grid is None:
            record = self._from_header(item_id, href, shown)
            if isinstance(record, Failure):
                yield record
                return
            record = dataclasses.replace(
                record,
                footprint_wkt=footprint.wkt,
                footprint_crs="EPSG:4326",
                acquired_on=acquired or record.acquired_on,
                date_from="stac" if acquired else record.date_from,
                details=details,
            )
        else:
            size = asset.get("file:size")
            record = ImageRecord(
                image_name=item_id,
                source=self.name,
                uri=href,
                acquired_on=acquired,
                date_from="stac" if acquired else None,
                footprint_wkt=footprint.wkt,
                footprint_crs="EPSG:4326",
                size_bytes=size if isinstance(size, int) else None,
                details=details,
                **grid,
            )
        if record.acquired_on is None:
            yield Notice(shown, "no acquisition date (no datetime or start_datetime)")
        yield record

    @staticmethod
    def _absolute(href: str, item: dict) -> str:
        """An asset href made absolute against the item's ``self`` link (STAC allows relative
        hrefs)."""
        if remote.is_url(href):
            return href
        for link in item.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "self":
                base = link.get("href")
                if isinstance(base, str) and remote.is_url(base):
                    return urljoin(base, href)
        return href

    def _from_header(self, item_id: str, href: str, shown: str) -> ImageRecord | Failure:
        """Read the grid from the asset's header (the item lacks projection fields)."""
        signed = self.sign(href) if self.sign else href
        gdal = remote.gdal_options(
            timeout_s=self.timeout_s, retries=self.retries, backoff_s=self.backoff_s
        )
        record, _ = read_raster(
            signed, source=self.name, name=item_id, footprint=False, gdal=gdal
        )
        if isinstance(record, Failure):
            return Failure(shown, remote.scrub(record.message, signed, href))
        return dataclasses.replace(record, uri=href, details={})
