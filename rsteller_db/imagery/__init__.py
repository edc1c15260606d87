"""Imagery: NAIP footprints (local rasters, footprint indexes, STAC APIs, Earth Engine), the
patch grid's keys, and patch pixels (local or remote COGs, Earth Engine). See docs/imagery.md.

    from rsteller_db.imagery import LocalSource, ingest_naip, fetch_images
    with Warehouse(path) as wh:
        ingest_naip(wh, LocalSource("rasters/"))
    fetch_images(path, limit=100)
"""

from __future__ import annotations

from . import gee, stac  # noqa: F401  (register the gee and stac back ends)
from .batches import BatchCommitter
from .fetch import FetchSummary, fetch_images
from .ingest import IngestResult, ingest_naip
from .naming import NaipName, parse_naip_name, patch_id
from .pixels import READERS, PatchWindow, encode_jpeg, make_reader
from .records import Failure, ImageRecord, Notice
from .sources import SOURCES, IndexSource, LocalSource, get_source

__all__ = [
    "READERS",
    "SOURCES",
    "BatchCommitter",
    "Failure",
    "FetchSummary",
    "ImageRecord",
    "IndexSource",
    "IngestResult",
    "LocalSource",
    "NaipName",
    "Notice",
    "PatchWindow",
    "encode_jpeg",
    "fetch_images",
    "get_source",
    "ingest_naip",
    "make_reader",
    "parse_naip_name",
    "patch_id",
]
