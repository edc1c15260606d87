"""``rsteller-db ingest naip``: NAIP footprints from local rasters, an index, a STAC API or
Earth Engine."""

from __future__ import annotations

import click

from ..errors import InputError
from .common import App, pass_app
from .ingest import ingest


@ingest.command("naip")
@click.argument("target", required=False, metavar="[DIR_OR_FILE]")
@click.option(
    "--source",
    "source_name",
    type=click.Choice(["local", "index", "stac", "gee"]),
    default="local",
    show_default=True,
    help="local: GeoTIFFs under DIR; index: a footprint FILE; stac: a STAC API search; "
    "gee: Earth Engine.",
)
@click.option("--name-col", help="index: column with the image name [default: image_name].")
@click.option("--uri-col", help="index: column with the raster path or URL [default: uri].")
@click.option("--date-col", help="index: column with the acquisition date (optional).")
@click.option("--crs", help="index: CRS of the footprint geometries [default: the file's own "
              "(.prj, GeoPackage or GeoParquet metadata), else EPSG:4326].")
@click.option("--url", metavar="API", help="stac: the STAC API's root URL.")
@click.option("--collection", help="stac: the collection to search [default: naip].")
@click.option("--bbox", metavar="BBOX", help="stac: minlon,minlat,maxlon,maxlat.")
@click.option(
    "--datetime",
    metavar="START/END",
    help="stac: acquisition date range, e.g. 2021-08-01/2022-11-30.",
)
@click.option("--asset", help="stac: the asset holding the COG [default: image].")
@click.option(
    "--sign",
    type=click.Choice(["planetary-computer"]),
    help="stac: sign asset URLs when they are read (needs the planetary-computer extra).",
)
@click.option(
    "--region",
    metavar="BBOX|GEOJSON",
    help="gee: minlon,minlat,maxlon,maxlat, or a GeoJSON file or text.",
)
@click.option("--start", metavar="DATE", help="gee: first acquisition date (inclusive).")
@click.option("--end", metavar="DATE", help="gee: end of the date range (exclusive).")
@click.option("--project", help="gee: Google Cloud project registered for Earth Engine.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    help="gee: service-account key (JSON) instead of `earthengine authenticate`.",
)
@pass_app
def naip(app: App, target: str | None, source_name: str, **options) -> None:
    """Record NAIP images (footprint, pixel grid, date) for the patch grid.

    Every image that can be used is stored; each one that cannot is reported with the
    reason, and the command then exits with status 1.

    \b
    Example:
      rsteller-db ingest naip --source local warehouse/sample
      rsteller-db ingest naip --source index naip_2022_fp.parquet --name-col FileName --uri-col url
      rsteller-db ingest naip --source stac \\
          --url https://planetarycomputer.microsoft.com/api/stac/v1 --collection naip \\
          --bbox -75.1,40.6,-74.9,40.8 --datetime 2021-08-01/2022-11-30 --sign planetary-computer
      rsteller-db ingest naip --source gee --region -75.1,40.6,-74.9,40.8 \\
          --start 2022-01-01 --end 2023-01-01 --project my-ee-project
    """
    from ..imagery import get_source, ingest_naip

    rep = app.reporter
    source = get_source(source_name).from_options(target, options, app.settings)
    with app.open() as wh:
        rep.step(f"ingesting NAIP footprints from {source.label} ({source_name})")
        result = ingest_naip(wh, source, rep)
    for failure in result.failures:
        click.echo(f"failed: {failure}", err=True)
    note = " (unchanged since the last ingest)" if result.unchanged else ""
    click.echo(f"ingested {len(result.images)} image(s){note}, {len(result.failures)} failed")
    if result.failures:
        raise InputError(
            f"{len(result.failures)} of {len(result.images) + len(result.failures)} "
            "input(s) failed to ingest (listed above); fix or remove them and re-run"
        )
