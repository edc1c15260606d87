"""Footprint sources: where ``ingest naip`` finds images. One class per back end, in a registry.

A source turns its options into a stream of ``ImageRecord`` (usable image), ``Failure`` (an
input that cannot be used, with the reason) and ``Notice`` (a warning) items. Back ends:

- ``local``: every GeoTIFF/COG under a folder, read with rasterio;
- ``index``: a footprint file (GeoParquet, GeoJSON, shapefile) read through DuckDB spatial,
  with columns naming each image and where its raster is;
- ``stac``: the items of a STAC API search (``imagery/stac.py``);
- ``gee``: the Earth Engine collection ``USDA/NAIP/DOQQ`` (``imagery/gee.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

import duckdb

from ..errors import InputError
from .rasters import read_raster
from .records import Failure, ImageRecord, Notice

Item = ImageRecord | Failure | Notice
RASTER_SUFFIXES = (".tif", ".tiff")


class FootprintSource:
    """Base of the back ends; subclasses set ``name`` and implement ``scan``."""

    name: ClassVar[str]

    @property
    def label(self) -> str:
        """Short name recorded in ``_meta.sources.name``."""
        raise NotImplementedError

    @property
    def uri(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_options(cls, target: str | None, options: dict, settings) -> FootprintSource:
        """Build the source from the ``ingest naip`` arguments (unused options are ignored)."""
        raise NotImplementedError

    def count(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """How many inputs ``scan`` will look at, when known up front (for the progress bar)."""
        return None

    def scan(self, con: duckdb.DuckDBPyConnection) -> Iterator[Item]:
        raise NotImplementedError


SOURCES: dict[str, type[FootprintSource]] = {}


def register(cls: type[FootprintSource]) -> type[FootprintSource]:
    SOURCES[cls.name] = cls
    return cls


def get_source(name: str) -> type[FootprintSource]:
    from . import gee, stac  # noqa: F401  (register the Earth Engine and STAC back ends)

    try:
        return SOURCES[name]
    except KeyError:
        raise InputError(
            f"unknown footprint source {name!r}: use --source {' | '.join(sorted(SOURCES))}"
        ) from None


class _PathSource(FootprintSource):
    """A back end that reads one path given after ``--source NAME``: named after the file,
    identified by its absolute path. ``target`` says what that path must be, ``metavar`` how
    the usage shown when it is missing writes it."""

    target: ClassVar[str]
    metavar: ClassVar[str]
    path: Path

    @classmethod
    def _required(cls, target: str | None) -> str:
        if not target:
            raise InputError(f"--source {cls.name} needs {cls.target}: "
                             f"rsteller-db ingest naip --source {cls.name} {cls.metavar}")
        return target

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def uri(self) -> str:
        return str(self.path.resolve())


@register
class LocalSource(_PathSource):
    """Every ``.tif``/``.tiff`` under a folder (or one file)."""

    name = "local"
    target, metavar = "a folder", "DIR"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(
                f"{self.path} does not exist: pass a folder of GeoTIFFs to --source local"
            )
        if self.path.is_file():
            self.files = [self.path]
        else:
            self.files = sorted(
                p
                for p in self.path.rglob("*")
                if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES
            )
        if not self.files:
            raise InputError(f"no GeoTIFF (.tif/.tiff) under {self.path}: check the folder")

    @classmethod
    def from_options(cls, target, options, settings) -> LocalSource:
        return cls(cls._required(target))

    def count(self, con) -> int:
        return len(self.files)

    def scan(self, con) -> Iterator[Item]:
        for path in self.files:
            record, notes = read_raster(path.resolve(), source=self.name)
            yield from notes
            yield record


_PARQUET = (".parquet", ".geoparquet")


@register
class IndexSource(_PathSource):
    """A footprint file: one row per image with its name, raster location and footprint."""

    name = "index"
    target, metavar = "a footprint file", "FILE"

    def __init__(
        self,
        path: str | Path,
        *,
        name_col: str = "image_name",
        uri_col: str = "uri",
        date_col: str | None = None,
        crs: str | None = None,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(
                f"footprint index {self.path} does not exist: check --source index FILE"
            )
        self.name_col, self.uri_col, self.date_col, self.crs = name_col, uri_col, date_col, crs

    @classmethod
    def from_options(cls, target, options, settings) -> IndexSource:
        keys = ("name_col", "uri_col", "date_col", "crs")
        return cls(cls._required(target),
                   **{k: options[k] for k in keys if options.get(k) is not None})

    def _quoted(self) -> str:
        """The file's path as a SQL string literal."""
        return "'" + str(self.path.resolve()).replace("'", "''") + "'"

    def _relation(self) -> str:
        if self.path.suffix.lower() in _PARQUET:
            return f"read_parquet({self._quoted()})"
        return f"ST_Read({self._quoted()})"

    def _rows(self, con) -> list[tuple]:
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {self._relation()}").fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"cannot read footprint index {self.path}: {str(exc).splitlines()[0]}"
            ) from exc
        types = {row[0]: row[1] for row in described}
        geoms = [c for c, t in types.items() if t.startswith("GEOMETRY")]
        wanted = {"--name-col": self.name_col, "--uri-col": self.uri_col}
        if self.date_col:
            wanted["--date-col"] = self.date_col
        missing = [f"{opt} {col}" for opt, col in wanted.items() if col not in types]
        if missing or not geoms:
            what = ", ".join(missing) if missing else "a geometry column"
            raise InputError(
                f"footprint index {self.path} lacks {what} (its columns: {', '.join(types)}): "
                "map the columns with --name-col, --uri-col, --date-col"
            )

        def q(col: str) -> str:
            return '"' + col.replace('"', '""') + '"'

        date_sql = f"TRY_CAST({q(self.date_col)} AS DATE)" if self.date_col else "NULL::DATE"
        return con.execute(
            f"SELECT {q(self.name_col)}::VARCHAR, {q(self.uri_col)}::VARCHAR, {date_sql}, "
            f"ST_AsText({q(geoms[0])}) FROM {self._relation()} ORDER BY 1"
        ).fetchall()

    def count(self, con) -> int:
        self._cached = self._rows(con)
        return len(self._cached)

    def footprint_crs(self, con) -> str:
        """``--crs`` when given; else the file's own CRS (a shapefile's .prj, a GeoPackage's
        SRS, GeoParquet's ``geo`` metadata); else EPSG:4326 (GeoJSON's only CRS)."""
        if self.crs:
            return self.crs
        try:
            found = self._parquet_crs(con) if self.path.suffix.lower() in _PARQUET \
                else self._gdal_crs(con)
        except (duckdb.Error, ValueError, KeyError, IndexError, TypeError):
            found = None
        return found or "EPSG:4326"

    def _gdal_crs(self, con) -> str | None:
        layers = con.execute(f"SELECT layers FROM ST_Read_Meta({self._quoted()})").fetchone()[0]
        crs = layers[0]["geometry_fields"][0]["crs"]
        if crs and crs.get("auth_name") and crs.get("auth_code"):
            return f"{crs['auth_name']}:{crs['auth_code']}"
        return None

    def _parquet_crs(self, con) -> str | None:
        row = con.execute(
            f"SELECT value FROM parquet_kv_metadata({self._quoted()}) WHERE key = 'geo'"
        ).fetchone()
        if row is None:
            return None
        geo = json.loads(row[0])
        column = geo["columns"][geo.get("primary_column") or next(iter(geo["columns"]))]
        if "crs" not in column:  # GeoParquet: no crs means OGC:CRS84, longitude/latitude
            return "EPSG:4326"
        ident = (column["crs"] or {}).get("id") or {}
        if ident.get("authority") == "OGC" and str(ident.get("code")) == "CRS84":
            return "EPSG:4326"
        if ident.get("authority") and ident.get("code"):
            return f"{ident['authority']}:{ident['code']}"
        return None

    def _resolve(self, uri: str) -> str:
        if "://" in uri or Path(uri).is_absolute():
            return uri
        return str((self.path.resolve().parent / uri).resolve())

    def scan(self, con) -> Iterator[Item]:
        rows = getattr(self, "_cached", None) or self._rows(con)
        crs = self.footprint_crs(con)
        for name, uri, day, wkt in rows:
            if not name or not uri or not wkt:
                yield Failure(
                    f"{self.path} row {name or '?'}", "empty name, raster location or footprint"
                )
                continue
            record, notes = read_raster(
                self._resolve(uri), source=self.name, name=name, footprint=False
            )
            if isinstance(record, ImageRecord):
                acquired: date | None = day or record.acquired_on
                record = dataclasses.replace(
                    record,
                    footprint_wkt=wkt,
                    footprint_crs=crs,
                    acquired_on=acquired,
                    date_from="index" if day else record.date_from,
                )
                notes = [n for n in notes if acquired is None]
            yield from notes
            yield record
