"""Warehouse commands: init, settings, build, stages, query."""

from __future__ import annotations

import click

from .. import stages as stage_lib
from ..query import run_query
from ..stages.executors import EXECUTORS
from . import main
from .common import App, emit, format_option, pass_app, read_sql_argument


@main.command()
@pass_app
def init(app: App) -> None:
    """Create the warehouse and any missing folders above it (or bring an existing one up to
    date).

    \b
    Example:
      rsteller-db init
      rsteller-db --warehouse /data/ny.duckdb init
    """
    with app.open(make_folder=True) as wh:
        click.echo(f"warehouse ready: {wh.path}")


@main.command()
@format_option()
@pass_app
def settings(app: App, fmt: str) -> None:
    """Show the settings in force: defaults overridden by rsteller.toml.

    \b
    Example:
      rsteller-db settings
      rsteller-db --config ny.toml settings --format json
    """
    emit(["key", "value", "default", "source", "description"], app.settings.rows(), fmt)


@main.command()
@click.option(
    "--only", "only", multiple=True, metavar="STAGE", help="Build just this stage (repeatable)."
)
@click.option("--from", "start", metavar="STAGE", help="Start the build at this stage.")
@click.option("--to", "stop", metavar="STAGE", help="Stop the build after this stage.")
@click.option("--force", is_flag=True, help="Rebuild even the stages whose inputs did not change.")
@click.option("--single", is_flag=True,
              help="Build the partitioned stages whole, in one query each (same tables; memory "
                   "grows with the input).")
@click.option("--executor", type=click.Choice(sorted(EXECUTORS)), default="local",
              show_default=True,
              help="Where partitions are built: local (one after another in this process) or "
                   "ray (one Ray task each; RAY_ADDRESS names the cluster).")
@pass_app
def build(
    app: App, only: tuple[str, ...], start: str | None, stop: str | None, force: bool,
    single: bool, executor: str,
) -> None:
    """Run the SQL stages in sql/ (seeds, staging, intermediate, marts) and their audits.

    Stages whose SQL, inputs and the settings they read are unchanged since their last build
    are skipped. The patch-grained stages are built partition by partition (a partition_deg
    cell of the map, 1-degree NAIP blocks by default), and only the partitions whose inputs
    changed (docs/scale.md).

    \b
    Example:
      rsteller-db build
      rsteller-db build --from int_patches_gridded --to caption_requests
      rsteller-db build --only caption_requests --force
      RAY_ADDRESS=auto rsteller-db build --executor ray
    """
    rep = app.reporter
    with app.open() as wh:
        planned = stage_lib.select(stage_lib.discover(), only, start, stop)
        rep.step(f"building {len(planned)} stage(s) in {wh.path}")
        with rep.bar("stages", total=len(planned)) as bar:

            def done(stage, result):
                bar.advance()
                bar.note(stage.name)

            def partition(key):
                bar.note(f"partition {key}")

            result = stage_lib.build(
                wh, only=only, start=start, stop=stop, force=force, on_stage=done,
                single=single, executor=executor, on_partition=partition,
            )
    built = [r for r in result.results if r.status == "built"]
    parts = max((r.partitions for r in result.results), default=0)
    rebuilt = max((r.partitions_built for r in result.results), default=0)
    tail = f"; {rebuilt} of {parts} partition(s) rebuilt" if parts else ""
    click.echo(f"built {len(built)} stage(s), {len(result.results) - len(built)} unchanged{tail}")


@main.command()
@format_option()
@pass_app
def stages(app: App, fmt: str) -> None:
    """List the stages in build order with their last build.

    \b
    Example:
      rsteller-db stages
      rsteller-db stages --format csv
    """
    with app.open(read_only=True) as wh:
        rows = stage_lib.stage_status(wh)
    emit(
        [
            "order",
            "stage",
            "layer",
            "kind",
            "grain",
            "last_built",
            "rows",
            "seconds",
            "sql_current",
        ],
        [(*r[:7], None if r[7] is None else round(r[7], 3), r[8]) for r in rows],
        fmt,
    )


@main.command()
@click.argument("sql")
@format_option()
@click.option("--write", is_flag=True, help="Open the warehouse writable (default: read-only).")
@pass_app
def query(app: App, sql: str, fmt: str, write: bool) -> None:
    """Run SQL on the warehouse and print the result; SQL '-' reads it from stdin.

    \b
    Example:
      rsteller-db query "select task, count(*) as n from caption_requests group by all"
      rsteller-db query --format csv "from stg_osm__elements limit 5" > elements.csv
      echo "select 42 as answer" | rsteller-db query - --format json
    """
    text = read_sql_argument(sql)
    with app.open(read_only=not write, create=False) as wh:
        result = run_query(wh, text)
    if result.columns:
        emit(result.columns, result.rows, fmt)
