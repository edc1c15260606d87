"""``rsteller-db images``: patch pixels as JPEGs in the warehouse's image cache."""

from __future__ import annotations

import click

from .. import defaults
from ..errors import InputError
from . import main
from .common import App, RstellerGroup, emit, format_option, partition_option, pass_app


@main.group(cls=RstellerGroup)
def images() -> None:
    """Patch pixels: fetch the JPEGs the exporter packs.

    \b
    Example:
      rsteller-db images fetch --limit 100
    """


@images.command("fetch")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Only the first N patches (image, row, column order).",
)
@partition_option("patches")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Threads reading and encoding patches [default: CPUs, at most 8; more for URLs, gee].",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=defaults.FETCH_RETRIES,
    show_default=True,
    help="Extra tries for a patch whose read fails, within this run.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=defaults.FETCH_TIMEOUT_S,
    show_default=True,
    help="Seconds an HTTP request for an image behind a URL may take.",
)
@click.option(
    "--quality", type=click.IntRange(1, 100), default=defaults.JPEG_QUALITY, show_default=True,
    help="JPEG quality."
)
@click.option("--project", help="Earth Engine project (images ingested with --source gee).")
@click.option(
    "--key-file", type=click.Path(dir_okay=False), help="Earth Engine service-account key (JSON)."
)
@format_option()
@pass_app
def fetch(
    app: App,
    limit: int | None,
    partitions: tuple[str, ...],
    workers: int | None,
    retries: int,
    timeout_s: float,
    quality: int,
    project: str | None,
    key_file: str | None,
    fmt: str,
) -> None:
    """Write 448 x 448 RGB JPEGs of the patches to images/ beside the warehouse.

    Patches are those with a caption request when `caption_requests` exists, else all
    patches of the grid (or the first --limit). Patches already fetched are skipped; those
    that failed before are tried again. Exits with status 1 when some patch failed.
    Images behind URLs (index or stac sources) are read window by window over HTTP ranges,
    never downloaded whole.

    \b
    Example:
      rsteller-db images fetch --limit 200 --workers 4
      rsteller-db images fetch --partition n41w075
      rsteller-db images fetch --workers 16 --timeout 60     # COGs behind URLs
      rsteller-db images fetch --project my-ee-project
    """
    from ..imagery import fetch_images

    app.reporter.step(f"fetching patch images into {app.path.resolve().parent / 'images'}")
    summary = fetch_images(
        app.path,
        settings=app.settings,
        limit=limit,
        workers=workers,
        retries=retries,
        timeout_s=timeout_s,
        quality=quality,
        reader_options={"project": project, "key_file": key_file},
        reporter=app.reporter,
        partitions=partitions,
    )
    emit(
        ["targets", "already", "ok", "failed", "seconds", "patches_per_s"],
        [
            (
                summary.targets,
                summary.already,
                summary.ok,
                summary.failed,
                round(summary.seconds, 2),
                round(summary.per_second, 1),
            )
        ],
        fmt,
    )
    for patch, reason in summary.failures:
        click.echo(f"failed: patch {patch}: {reason}", err=True)
    if summary.failed:
        raise InputError(
            f"{summary.failed} patch(es) failed (recorded in patch_images with the "
            "reason); re-run `rsteller-db images fetch` to retry only those"
        )
