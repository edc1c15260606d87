"""``rsteller-db export``: write the dataset as webdataset shards or parquet; ``export verify``."""

from __future__ import annotations

from pathlib import Path

import click

from .. import defaults
from . import main
from .common import App, RstellerGroup, partition_option, pass_app

FORMATS = ("wds", "parquet")
SHOWN_PROBLEMS = 50


@main.group(cls=RstellerGroup, invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=defaults.EXPORT_FORMAT,
              show_default=True,
              help="wds: RSTeller tar shards (jpg + json) with parquet sidecars; "
                   "parquet: the metadata table only.")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="DIR",
              help="Output folder (created when missing).")
@click.option("--shard-size", type=int, default=defaults.SHARD_SIZE, show_default=True,
              help="Samples per shard.")
@click.option("--split", default=defaults.EXPORT_SPLIT, show_default=True,
              help="Split name: shards are <split>-000000.tar, ...")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), metavar="Q",
              help="Re-encode every image at this quality "
                   "[default: copy cached JPEGs as they are].")
@click.option("--workers", type=click.IntRange(1, 64), default=defaults.EXPORT_WORKERS,
              show_default=True,
              help="Processes writing shards: this one and N-1 spawned helpers (this one "
                   "commits them all); the bytes do not depend on it.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=defaults.EXPORT_EXECUTOR,
              show_default=True,
              help="ray: shards written by Ray tasks (RAY_ADDRESS names the cluster; --out on "
                   "storage every node mounts); same bytes.")
@partition_option("samples", ": a dataset of its own")
@click.option("--overwrite", is_flag=True,
              help="Delete every file in --out first "
                   "(needed when it holds files we did not write).")
@click.pass_context
def export(ctx: click.Context, fmt: str, out: Path | None, shard_size: int, split: str,
           jpeg_quality: int | None, workers: int, executor: str, partitions: tuple[str, ...],
           overwrite: bool) -> None:
    """Export samples with an accepted Task 1/2 caption as RSTeller-format shards.

    Same warehouse, same bytes. A shard is written under a temporary name and renamed when
    complete; re-running the same command after a crash writes only the missing shards.
    Patches whose image is missing are skipped and listed in the shard's stats file.

    \b
    Example:
      rsteller-db export --format wds --out out/rsteller --shard-size 5000 --workers 2
      rsteller-db export --format parquet --out out/rsteller-meta
      rsteller-db export --out out/n41w075 --partition n41w075
      RAY_ADDRESS=auto rsteller-db export --out /shared/rsteller --executor ray
      rsteller-db export verify out/rsteller
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("--out DIR is required: rsteller-db export --out out/rsteller")
    from ..export import ExportHelpers, ExportOptions, export_dataset

    app = ctx.find_object(App)
    options = ExportOptions(fmt=fmt, split=split, shard_size=shard_size,
                            jpeg_quality=jpeg_quality, overwrite=overwrite, workers=workers,
                            executor=executor, partitions=partitions)
    reporter = app.reporter
    # --workers: the helper processes import while the warehouse opens
    with ExportHelpers.for_options(options) as helpers, app.open(read_only=True) as wh:
        result = export_dataset(wh, out, options, reporter, helpers)
    for item in result.skipped[:5]:
        reporter.warn(f"skipped patch {item['patch_id']}: {item['reason']}")
    rate = result.samples / result.seconds if result.seconds else 0.0
    click.echo(
        f"exported {result.samples} sample(s) in {len(result.shards)} shard(s) to {out} "
        f"({result.written} written, {result.kept} kept; {len(result.skipped)} skipped; "
        f"{rate:.0f} samples/s)"
    )


@export.command("verify")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), metavar="DIR")
@pass_app
def verify(app: App, folder: Path) -> None:
    """Check an export: shards open, every key has jpg and json in RSTeller's schema, the
    sha256 of every file matches manifest.json, no patch appears twice.

    \b
    Example:
      rsteller-db export verify out/rsteller
    """
    from ..export import ExportError, verify_export

    report = verify_export(folder, app.reporter)
    if not report.ok:
        for problem in report.problems[:SHOWN_PROBLEMS]:
            click.echo(problem, err=True)
        more = len(report.problems) - SHOWN_PROBLEMS
        if more > 0:
            click.echo(f"... and {more} more", err=True)
        raise ExportError(
            f"{folder} failed verification with {len(report.problems)} problem(s): re-run "
            "`rsteller-db export` with the same options (add --overwrite to rewrite every shard)"
        )
    click.echo(f"ok: {report.samples} sample(s) in {report.shards} shard(s) match "
               f"{folder}/manifest.json")
