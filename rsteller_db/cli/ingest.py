"""The ``ingest`` group; its sub-commands live in ``ingest_*`` modules beside this one."""

from __future__ import annotations

from . import main
from .common import RstellerGroup


@main.group(cls=RstellerGroup)
def ingest() -> None:
    """Load inputs into the warehouse: OSM extracts, NAIP footprints, tag meanings.

    \b
    Example:
      rsteller-db ingest osm warehouse/sample/town.osm.pbf
      rsteller-db ingest naip --source local warehouse/sample
    """
