"""OpenStreetMap input: PBF checks, ingest into ``raw.osm_elements``, source bookkeeping.

Geometry is rebuilt by the SQL stages ``sql/20_staging/1*_stg_osm__*.sql``; see docs/osm.md.
"""

from __future__ import annotations

from .ingest import OsmSource, file_sha256, ingest_osm
from .pbf import PbfHeader, read_pbf_header

check_pbf = read_pbf_header

__all__ = ["OsmSource", "PbfHeader", "check_pbf", "file_sha256", "ingest_osm", "read_pbf_header"]
