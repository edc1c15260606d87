"""Dataset card statistics: what the warehouse's captions, patches and sources add up to.

``collect_stats`` reads whatever has been built (a section whose relations are missing says
which command makes them) and returns plain tables; ``write_card`` renders them as a
Hugging Face-style ``README.md`` beside the plots of ``plots.py``.

Definitions used throughout (docs/queries.md states the same in SQL):
- a *caption* of the dataset is a row of ``captions`` with status ``accepted``;
- its length in *words* is the number of whitespace-separated pieces of its text;
- *tokens* for vocabulary and MTLD are the lower-cased words of ``lexical.tokenize``;
- a patch's *dominant land use* is the ``landuse``/``natural``/``leisure`` class of the OSM
  areas covering the largest share of it (shares summed per class, measured in EPSG:4326,
  which over a 270 m patch differs from the metric share by far less than 0.1 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .lexical import LexicalAccumulator

ACCEPTED = "status = 'accepted'"
WORDS = r"len(string_split_regex(trim(text), '\s+'))"
TAG_LIST = '[{"key": "VARCHAR", "value": "VARCHAR"}]'  # payload.element.tags of caption_requests
MENTIONED = "contains(lower(text), lower(replace(value, '_', ' ')))"
LICENCES = {
    "osm": "ODbL 1.0, © OpenStreetMap contributors",
    "naip": "public domain (USDA Farm Production and Conservation Business Center)",
    "taginfo": "CC BY-SA 2.0 (OpenStreetMap wiki)",
}
BUILT_BY = {
    "captions": "rsteller-db caption",
    "caption_requests": "rsteller-db build",
    "int_patches_gridded": "rsteller-db build",
    "stg_osm__elements": "rsteller-db ingest osm && rsteller-db build",
    "stg_naip__images": "rsteller-db ingest naip && rsteller-db build",
    "patch_images": "rsteller-db images fetch",
}

DOMINANT_LAND_USE = """
with classes as (
    select element_id, geom,
           coalesce('landuse=' || tags['landuse'], 'natural=' || tags['natural'],
                    'leisure=' || tags['leisure']) as land_use
    from stg_osm__elements
    where kind = 'area'
      and coalesce(tags['landuse'], tags['natural'], tags['leisure']) is not null
), shares as (
    select p.patch_id, c.land_use,
           sum(ST_Area(ST_Intersection(p.geom, c.geom)) / ST_Area(p.geom)) as share
    from int_patches_gridded p join classes c on ST_Intersects(p.geom, c.geom)
    group by all
)
select patch_id, arg_max(land_use, share) as land_use, max(share) as share
from shares group by patch_id
"""


@dataclass
class Section:
    """One table of the card; ``missing`` names what to run when it could not be computed."""

    title: str
    columns: list[str]
    rows: list[tuple] = field(default_factory=list)
    missing: str | None = None


@dataclass
class CardStats:
    headline: dict[str, Any]
    sections: dict[str, Section]
    words_by_task: dict[int, list[int]]
    models: list[str]


def _rows(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def _missing(wh: Warehouse, *relations: str) -> str | None:
    for name in relations:
        schema, _, rel = name.rpartition(".")
        if not wh.relation_exists(rel, schema or "main"):
            how = BUILT_BY.get(rel, "rsteller-db build")
            return f"`{name}` is not built yet: run `{how}`"
    return None


def _section(wh: Warehouse, title: str, columns: list[str], sql: str,
             needs: tuple[str, ...]) -> Section:
    missing = _missing(wh, *needs)
    if missing:
        return Section(title, columns, missing=missing)
    return Section(title, columns, _rows(wh, sql))


def _lexical(wh: Warehouse, reporter: Reporter) -> Section:
    columns = ["task", "tokens", "vocabulary", "mtld"]
    missing = _missing(wh, "captions")
    if missing:
        return Section("Vocabulary and lexical diversity", columns, missing=missing)
    total = _rows(wh, f"select count(*) from captions where {ACCEPTED}")[0][0]
    acc: dict[str, LexicalAccumulator] = {}
    with reporter.bar("lexical diversity (2 passes)", total=2 * total) as bar:
        for direction in ("asc", "desc"):
            cur = wh.con.execute(
                f"select task, text from captions where {ACCEPTED} order by caption_id {direction}")
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
    return Section("Vocabulary and lexical diversity", columns,
                   [(k, *acc[k].result()) for k in order])


def collect_stats(wh: Warehouse, *, top: int = 15, reporter: Reporter = QUIET) -> CardStats:
    """The card's numbers, computed on the open warehouse (read-only is enough)."""
    reporter.step("counting captions, lengths, tags, land uses, rejections and runs")
    s: dict[str, Section] = {}
    s["tasks"] = _section(
        wh, "Captions by task and annotator", ["task", "annotator", "captions", "share_pct"],
        f"""select task, annotator, count(*) as captions,
                   round(100.0 * count(*) / sum(count(*)) over (), 1) as share_pct
            from captions where {ACCEPTED} group by all order by task, annotator""",
        ("captions",))
    s["lengths"] = _section(
        wh, "Caption length (words)", ["task", "captions", "min", "mean", "median", "p90", "max"],
        f"""with w as (select task, {WORDS} as words from captions where {ACCEPTED})
            select coalesce(task::varchar, 'all'), count(*), min(words), round(avg(words), 1),
                   median(words), quantile_disc(words, 0.9), max(words)
            from w group by grouping sets ((task), ()) order by task nulls last""",
        ("captions",))
    s["lexical"] = _lexical(wh, reporter)
    s["tags"] = _section(
        wh, "OSM tags given to the captioner", ["tag", "captions", "mentioned", "mentioned_pct"],
        f"""with given as (
                select c.text, unnest(from_json(r.payload -> '$.element.tags', '{TAG_LIST}'),
                                      recursive := true)
                from captions c join caption_requests r using (request_id)
                where c.{ACCEPTED} and c.task in (1, 2)
            )
            select key || '=' || value as tag, count(*) as captions,
                   count(*) filter ({MENTIONED}) as mentioned,
                   round(100.0 * count(*) filter ({MENTIONED}) / count(*), 1) as mentioned_pct
            from given group by all order by captions desc, tag limit {int(top)}""",
        ("captions", "caption_requests"))
    s["land_use"] = _section(
        wh, "Patches by dominant land use", ["land_use", "patches", "share_pct"],
        f"""with dataset as (select distinct patch_id from captions where {ACCEPTED}),
                 dominant as ({DOMINANT_LAND_USE})
            select coalesce(d.land_use, '(none)') as land_use, count(*) as patches,
                   round(100.0 * count(*) / sum(count(*)) over (), 1) as share_pct
            from dataset left join dominant d using (patch_id)
            group by all order by patches desc, land_use limit {int(top)}""",
        ("captions", "stg_osm__elements", "int_patches_gridded"))
    s["rejections"] = _section(
        wh, "Rejected and failed attempts", ["annotator", "status", "reason", "captions"],
        """select annotator, status, coalesce(reject_reason, '(none given)') as reason,
                  count(*) as captions
           from captions where status <> 'accepted'
           group by all order by captions desc, annotator, status, reason""",
        ("captions",))
    from .verdicts import rule_sections  # imports Section from here

    s.update(rule_sections(wh, _missing(wh, "captions")))
    s["runs"] = _runs(wh)
    s["sources"] = _sources(wh)
    words = {}
    if not s["lengths"].missing:
        for task, n in _rows(wh, f"select task, {WORDS} from captions where {ACCEPTED}"):
            words.setdefault(int(task), []).append(int(n))
    return CardStats(_headline(wh, s), s, words, _models(wh))


def _runs(wh: Warehouse) -> Section:
    columns = ["run_id", "annotator", "backend", "attempts", "accepted", "tokens_out", "wall_s",
               "captions_per_s", "tokens_out_per_s"]
    missing = _missing(wh, "captions")
    if missing:
        return Section("Generation throughput", columns, missing=missing)
    wall = "date_diff('millisecond', min(c.created_at), max(c.created_at)) / 1000.0"
    join = ""
    run_cols = {r[0] for r in _rows(
        wh, "select column_name from duckdb_columns() "
            "where schema_name = '_meta' and table_name = 'caption_runs'")}
    if {"run_id", "wall_s"} <= run_cols:
        join = "left join _meta.caption_runs m on m.run_id = c.run_id"
        wall = f"coalesce(any_value(m.wall_s), {wall})"
    rows = _rows(wh, f"""
        with r as (
            select c.run_id, string_agg(distinct c.annotator, ', ') as annotator,
                   string_agg(distinct c.backend, ', ') as backend, count(*) as attempts,
                   count(*) filter (c.{ACCEPTED}) as accepted,
                   sum(c.tokens_out) filter (c.{ACCEPTED}) as tokens_out, {wall} as wall_s
            from captions c {join} group by c.run_id)
        select *, round(accepted / nullif(wall_s, 0), 3), round(tokens_out / nullif(wall_s, 0), 1)
        from r order by run_id""")
    return Section("Generation throughput", columns,
                   [(*r[:6], None if r[6] is None else round(r[6], 1), *r[7:]) for r in rows])


def _sources(wh: Warehouse) -> Section:
    rows = _rows(wh, "select kind, name, uri, snapshot_at from _meta.sources order by source_id")
    return Section("Sources and licences", ["kind", "name", "uri", "snapshot_at", "licence"],
                   [(*r, LICENCES.get(r[0], "see the source")) for r in rows])


def _models(wh: Warehouse) -> list[str]:
    if _missing(wh, "captions"):
        return []
    return [r[0] for r in _rows(wh, f"select distinct annotator from captions where {ACCEPTED} "
                                    "order by 1")]


def _headline(wh: Warehouse, s: dict[str, Section]) -> dict[str, Any]:
    """The figures at the top of the card; empty until some caption is accepted."""
    if s["tasks"].missing or not s["tasks"].rows:
        return {}
    captions, patches, accepted_pct = _rows(wh, f"""
        select count(*) filter ({ACCEPTED}), count(distinct patch_id) filter ({ACCEPTED}),
               round(100.0 * count(*) filter ({ACCEPTED}) / count(*), 1)
        from captions""")[0]
    head: dict[str, Any] = {"patches": patches, "captions": captions,
                            "acceptance_pct": accepted_pct}
    for task, share in _rows(wh, f"""
            select task, round(100.0 * count(*) / sum(count(*)) over (), 1)
            from captions where {ACCEPTED} group by task order by task"""):
        head[f"task{task}_pct"] = share
    head["annotators"] = len(_models(wh))
    head["mean_words"] = s["lengths"].rows[-1][3]
    _, tokens, vocab, value = s["lexical"].rows[-1]
    head.update(tokens=tokens, vocabulary=vocab, mtld=value)
    if not _missing(wh, "patch_images"):
        head["images_ok"] = _rows(wh, "select count(*) from patch_images where status = 'ok'")[0][0]
    return head
