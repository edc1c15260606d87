"""Dataset card statistics: the ``card_*`` marts of ``sql/40_marts/``, read into plain tables.

Every figure of the card is a mart (a view, so it follows the live ``captions``):
``card_headline`` is the one row of headline figures, and each other ``card_<key>`` is one
table of the card, in file order, under the header of its SQL file::

    -- title: Captions by task and annotator      (the table's heading)
    -- part: Captions                             (the card's section it goes in)
    -- plot: task_annotator.png                   (optional: the plot shown above it)
    -- limit: top                                 (optional: only the first --top rows)

A new card table is one more ``sql/40_marts/NN_card_<key>.sql`` (and, for prose under it,
``inspect/templates/card_notes/<key>.md``); no Python changes. The only figures computed in
Python are the lexical ones (tokens, vocabulary, MTLD: a sequential pass over the caption
texts, see ``lexical.py``). A warehouse that was never built gets sections that say which
command fills them.

The card describes the dataset the export writes: ``dataset_captions`` (the accepted Task 1/2
caption of each ``dataset_samples`` patch and its accepted revisions). Rejections and runs
count every attempt in ``captions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import defaults
from ..progress import QUIET, Reporter
from ..stages import discover
from ..warehouse import Warehouse
from .lexical import LexicalAccumulator

HEADLINE = "card_headline"
PREFIX = "card_"
LEXICAL = "Vocabulary and lexical diversity"
BUILT_BY = {
    "captions": "rsteller-db caption",
    "caption_requests": "rsteller-db build",
    "int_patches_gridded": "rsteller-db build",
    "stg_osm__elements": "rsteller-db ingest osm && rsteller-db build",
    "stg_naip__images": "rsteller-db ingest naip && rsteller-db build",
    "patch_images": "rsteller-db images fetch",
}


@dataclass
class Section:
    """One table of the card; ``missing`` names what to run when it could not be computed."""

    title: str
    columns: list[str]
    rows: list[tuple] = field(default_factory=list)
    missing: str | None = None
    part: str = "More figures"
    plot: str | None = None


@dataclass
class CardStats:
    headline: dict[str, Any]
    sections: dict[str, Section]
    words_by_task: dict[int, list[int]]
    models: list[str]


def missing(wh: Warehouse, *relations: str) -> str | None:
    """What to run to build the first of ``relations`` the warehouse lacks, else None."""
    for name in relations:
        if not wh.relation_exists(name):
            return f"`{name}` is not built yet: run `{BUILT_BY.get(name, 'rsteller-db build')}`"
    return None


def _rows(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def _mart_section(wh: Warehouse, name: str, header: dict[str, str], top: int) -> Section:
    title = header.get("title", name.removeprefix(PREFIX).replace("_", " "))
    part = header.get("part", Section.part)
    absent = missing(wh, name)
    if absent:
        return Section(title, [], missing=absent, part=part, plot=header.get("plot"))
    limit = f" limit {int(top)}" if header.get("limit") == "top" else ""
    cur = wh.con.execute(f"select * from {name}{limit}")
    return Section(title, [d[0] for d in cur.description], cur.fetchall(), part=part,
                   plot=header.get("plot"))


def _lexical(wh: Warehouse, reporter: Reporter) -> Section:
    columns = ["task", "tokens", "vocabulary", "mtld"]
    absent = missing(wh, "dataset_captions")
    if absent:
        return Section(LEXICAL, columns, missing=absent, part="Captions")
    total = _rows(wh, "select count(*) from dataset_captions")[0][0]
    acc: dict[str, LexicalAccumulator] = {}
    with reporter.bar("lexical diversity (2 passes)", total=2 * total) as bar:
        for direction in ("asc", "desc"):
            cur = wh.con.execute(
                f"select task, text from dataset_captions order by caption_id {direction}")
            while batch := cur.fetchmany(20_000):
                for task, text in batch:
                    for key in (str(task), "all"):
                        one = acc.setdefault(key, LexicalAccumulator())
                        if direction == "asc":
                            one.add(text)
                        else:
                            one.add_backward(text)
                bar.advance(len(batch))
    order = sorted(k for k in acc if k != "all") + (["all"] if acc else [])
    return Section(LEXICAL, columns, [(k, *acc[k].result()) for k in order], part="Captions")


def collect_stats(wh: Warehouse, *, top: int = defaults.CARD_TOP,
                  reporter: Reporter = QUIET) -> CardStats:
    """The card's numbers, read from the card marts of the open warehouse (read-only is
    enough)."""
    reporter.step("reading the card marts: captions, lengths, tags, land uses, rejections, runs")
    sections: dict[str, Section] = {}
    for stage in discover():
        if stage.name.startswith(PREFIX) and stage.name != HEADLINE:
            key = stage.name.removeprefix(PREFIX)
            sections[key] = _mart_section(wh, stage.name, stage.header, top)
            if key == "lengths":
                sections["lexical"] = _lexical(wh, reporter)
    words: dict[int, list[int]] = {}
    models: list[str] = []
    if not missing(wh, "dataset_captions"):
        for task, n in _rows(wh, "select task, words from dataset_captions"):
            words.setdefault(int(task), []).append(int(n))
        models = [r[0] for r in _rows(
            wh, "select distinct annotator from dataset_captions order by 1")]
    return CardStats(_headline(wh, sections), sections, words, models)


def _headline(wh: Warehouse, sections: dict[str, Section]) -> dict[str, Any]:
    """The figures at the top of the card; empty until the dataset holds a caption."""
    if missing(wh, HEADLINE):
        return {}
    cur = wh.con.execute(f"select * from {HEADLINE}")
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    if not row.get("captions"):
        return {}
    head = {k: v for k, v in row.items() if v is not None}
    lexical = sections.get("lexical")
    if lexical and lexical.rows:
        _, tokens, vocabulary, value = lexical.rows[-1]
        head.update(tokens=tokens, vocabulary=vocabulary, mtld=value)
    return head
