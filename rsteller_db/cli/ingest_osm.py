"""``rsteller-db ingest osm``: OSM extracts into the warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from ..osm import check_pbf, ingest_osm
from .common import App, emit, format_option, pass_app
from .ingest import ingest

COLUMNS = ["source_id", "name", "status", "nodes", "ways", "relations", "snapshot_at"]


@ingest.command("osm")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="FILE.osm.pbf...")
@click.option("--replace", is_flag=True,
              help="Swap an already ingested file of the same name for this one, atomically.")
@format_option()
@pass_app
def osm(app: App, files: tuple[Path, ...], replace: bool, fmt: str) -> None:
    """Load OpenStreetMap PBF extracts into raw.osm_elements and record them as sources.

    Several extracts (neighbouring states) can share one warehouse; objects they both hold
    are kept once. The same file again changes nothing. Every file is checked before any is
    loaded, and each loads in one transaction: on error the warehouse stays as it was.
    Then `rsteller-db build` rebuilds stg_osm__elements, stg_osm__boundaries and
    stg_osm__problems.

    \b
    Example:
      rsteller-db ingest osm warehouse/sample/town.osm.pbf
      rsteller-db ingest osm new-york-latest.osm.pbf new-jersey-latest.osm.pbf
      rsteller-db ingest osm --replace new-york-latest.osm.pbf && rsteller-db build
    """
    rep = app.reporter
    for path in files:
        check_pbf(path)
    rows = []
    with app.open() as wh:
        for path in files:
            src = ingest_osm(wh, path, replace=replace, reporter=rep)
            rows.append((src.source_id, src.name, src.status, src.counts.get("node"),
                         src.counts.get("way"), src.counts.get("relation"), src.snapshot_at))
    emit(COLUMNS, rows, fmt)
