"""``rsteller-db preview``: one HTML page of patch images, element outlines and captions."""

from __future__ import annotations

from pathlib import Path

import click

from .. import defaults
from . import main
from .common import App, pass_app


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(defaults.PREVIEW_FILE),
              show_default=True, help="HTML file to write (self-contained: images embedded).")
@click.option("--n", "n", type=click.IntRange(1, 10_000), default=defaults.PREVIEW_SAMPLES,
              show_default=True,
              help="Samples to show at most.")
@click.option("--task", type=click.IntRange(1, 3), default=None,
              help="Only Task 1 (areas) or 2 (lines) samples, or 3: samples with a revision.")
@click.option("--where", "where", metavar="CONDITION", default=None,
              help="SQL condition over the sample columns (request_id, patch_id, image_name, "
                   "col, row, task, element_id, osm_type, osm_id, element_kind, tags, payload, "
                   "text, annotator, backend, run_id, revisions, ...).")
@pass_app
def preview(app: App, out: Path, n: int, task: int | None, where: str | None) -> None:
    """Write an HTML preview: each patch image with the described OSM element's outline
    drawn over it, the element's facts, and the captions with their annotators.

    \b
    Example:
      rsteller-db preview --out preview.html
      rsteller-db preview --n 20 --task 2 --out lines.html
      rsteller-db preview --where "tags['landuse'] = 'farmland' and annotator like '%Nemo%'"
    """
    from ..inspect import write_preview

    rep = app.reporter
    with app.open(read_only=True, create=False) as wh:
        result = write_preview(wh, out, n=n, task=task, where=where, reporter=rep)
    click.echo(f"{result.path}: {len(result.samples)} of {result.matched} matching samples")
    if result.skipped:
        click.echo(f"{len(result.skipped)} sample(s) left out: image file missing or unreadable",
                   err=True)
