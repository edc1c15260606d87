"""The ``rsteller-db`` command line: thin commands over the library.

Every module in this package except ``common`` registers its commands on ``main`` when
imported; a new command area is a new module here, nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from ..warehouse import READER_LOCK_WAIT_S
from .common import App, RstellerGroup


@click.group(cls=RstellerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--warehouse",
    "-w",
    envvar="RSTELLER_WAREHOUSE",
    metavar="PATH",
    help="Warehouse file [default: warehouse/rsteller.duckdb, or $RSTELLER_WAREHOUSE].",
)
@click.option(
    "--config",
    "-c",
    envvar="RSTELLER_CONFIG",
    metavar="TOML",
    help="Settings file [default: ./rsteller.toml when present].",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display, only results and errors.")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=READER_LOCK_WAIT_S,
    show_default=True,
    metavar="SECONDS",
    help="How long a reading command (query, stats, preview, stages, export) waits for a "
    "warehouse another process holds, e.g. a caption run between two commits.",
)
@click.version_option(package_name="rsteller-db")
@click.pass_context
def main(
    ctx: click.Context, warehouse: str | None, config: str | None, quiet: bool, lock_wait: float
) -> None:
    """Build RSTeller-style image-caption datasets from NAIP imagery and OpenStreetMap
    in a DuckDB warehouse.

    \b
    Example:
      rsteller-db sample --out warehouse/sample
      rsteller-db init && rsteller-db build
      rsteller-db query "select task, count(*) from caption_requests group by 1"
    """
    ctx.obj = App(warehouse=warehouse, config=config, quiet=quiet, lock_wait_s=lock_wait)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name != "common":
        importlib.import_module(f"{__name__}.{_info.name}")
