"""``rsteller-db ingest taginfo``: tag meanings from the taginfo wiki database."""

from __future__ import annotations

from pathlib import Path

import click

from .. import defaults
from .common import App, pass_app
from .ingest import ingest


@ingest.command("taginfo")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", default=defaults.TAGINFO_LANG, show_default=True,
              help="Wiki language of the descriptions to load.")
@pass_app
def ingest_taginfo_command(app: App, file: Path, lang: str) -> None:
    """Load OSM tag meanings from taginfo's wiki database (taginfo-wiki.db).

    Prompts explain each tag in one sentence: our tag_glossary seed first, then these
    descriptions (key + value, then the key alone). A second ingest replaces the first;
    run `rsteller-db build` afterwards to refresh the prompts.

    \b
    Example:
      rsteller-db ingest taginfo ~/Downloads/taginfo-wiki.db
      rsteller-db ingest taginfo taginfo-wiki.db --lang en && rsteller-db build
    """
    from ..taginfo import ingest_taginfo

    with app.open() as wh:
        result = ingest_taginfo(wh, file, lang=lang, reporter=app.reporter)
    click.echo(f"loaded {result.tag_rows:,} tag and {result.key_rows:,} key descriptions "
               f"({result.lang}) from {result.path}")
