"""``rsteller-db stats``: the dataset card (README.md + plots) and its headline numbers."""

from __future__ import annotations

from pathlib import Path

import click

from .. import defaults
from . import main
from .common import App, emit, format_option, pass_app


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the dataset card (README.md and PNG plots) into this folder.")
@click.option("--name", default=defaults.CARD_NAME, show_default=True,
              help="Dataset name used as the card's title.")
@click.option("--top", type=click.IntRange(1, 1000), default=defaults.CARD_TOP, show_default=True,
              help="Rows kept in the top-tags and land-use tables.")
@format_option()
@pass_app
def stats(app: App, out_dir: Path | None, name: str, top: int, fmt: str) -> None:
    """Dataset statistics: captions by task and annotator, caption lengths, vocabulary and
    MTLD, top tags and land uses, rejections, caption-run throughput, sources.

    Prints the headline numbers; with --out also writes a Hugging Face-style dataset card
    (README.md) with the full tables and plots (task_annotator.png, caption_length.png,
    coverage_map.png).

    \b
    Example:
      rsteller-db stats
      rsteller-db stats --out warehouse/card --name "RSTeller NY 2022"
      rsteller-db stats --format json > headline.json
    """
    from ..inspect import collect_stats, write_card

    rep = app.reporter
    with app.open(read_only=True, create=False) as wh:
        if out_dir is None:
            result = collect_stats(wh, top=top, reporter=rep)
        else:
            result = write_card(wh, out_dir, name=name, top=top, reporter=rep).stats
    emit(["figure", "value"], list(result.headline.items()), fmt)
    if out_dir is not None:
        rep.info(f"dataset card written: {out_dir / 'README.md'}")
