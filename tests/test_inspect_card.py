"""The dataset card: its numbers against direct queries on the sample warehouse (built by the
real pipeline), its plots, and the stats command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image
from sample_world import LOOPBACK_MODEL, LOOPBACK_REQUESTS

from rsteller_db.cli import main
from rsteller_db.inspect import collect_stats, mtld, tokenize, write_card
from rsteller_db.warehouse import Warehouse

# The dataset's captions, as the export writes them: each exported patch's accepted Task 1/2
# caption (the lowest task, then caption id) and the accepted revisions of its request.
EXPORTED = """
    with first as (
        select patch_id, request_id, caption_id from captions
        where status = 'accepted' and task in (1, 2)
        qualify row_number() over (partition by patch_id order by task, caption_id) = 1)
    select c.* from captions c join first f using (patch_id)
    where c.status = 'accepted'
      and (c.caption_id = f.caption_id
           or (c.task = 3 and c.request_id like f.patch_id || '-t3-%'))"""


@pytest.fixture(scope="module")
def wh(sample_warehouse):
    with Warehouse(sample_warehouse, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def card(wh, tmp_path_factory):
    return write_card(wh, tmp_path_factory.mktemp("card_out"), name="Sample town")


def q(wh, sql):
    return wh.con.execute(sql).fetchall()


def test_the_card_counts_what_the_export_writes(wh, card):
    exported = q(wh, f"select count(*), count(distinct patch_id) from ({EXPORTED})")[0]
    assert exported[0] > 0
    assert (card.stats.headline["captions"], card.stats.headline["patches"]) == exported
    assert exported[1] == q(wh, "select count(*) from dataset_samples")[0][0]


def test_counts_by_task_and_annotator_match_sql(wh, card):
    direct = q(wh, f"select task, annotator, count(*) from ({EXPORTED}) group by all order by all")
    assert [r[:3] for r in card.stats.sections["tasks"].rows] == direct
    assert {r[1] for r in direct} == {LOOPBACK_MODEL, "rsteller-db/template"}
    assert card.stats.headline["annotators"] == 2
    total = q(wh, "select count(*) from captions")[0][0]
    accepted = q(wh, "select count(*) from captions where status = 'accepted'")[0][0]
    assert card.stats.headline["acceptance_pct"] == round(100 * accepted / total, 1) < 100


def test_lengths_match_sql(wh, card):
    words = [w for (w,) in q(wh, f"select len(string_split(text, ' ')) from ({EXPORTED})")]
    all_row = card.stats.sections["lengths"].rows[-1]
    assert all_row[0] == "all"
    assert all_row[1] == len(words)
    assert (all_row[2], all_row[6]) == (min(words), max(words))
    assert all_row[3] == round(sum(words) / len(words), 1)
    revisions = q(wh, f"select len(string_split(text, ' ')) from ({EXPORTED}) where task = 3")
    assert sorted(card.stats.words_by_task[3]) == sorted(w for (w,) in revisions)


def test_vocabulary_and_mtld_match_the_captions(wh, card):
    texts = [r[0] for r in q(wh, f"select text from ({EXPORTED}) order by caption_id")]
    stream = [t for text in texts for t in tokenize(text)]
    assert card.stats.headline["tokens"] == len(stream)
    assert card.stats.headline["vocabulary"] == len(set(stream))
    assert card.stats.headline["mtld"] == round(mtld(stream), 2)
    assert card.stats.headline["mtld"] > 10


def test_tags_match_sql(wh, card):
    given = q(wh, f"""
        select t.key || '=' || t.value, count(*),
               count(*) filter (contains(lower(c.text), lower(replace(t.value, '_', ' '))))
        from ({EXPORTED}) c join caption_requests r using (request_id),
             unnest(from_json(r.payload -> '$.element.tags',
                              '[{{"key": "VARCHAR", "value": "VARCHAR"}}]')) u(t)
        where c.task in (1, 2) group by all""")
    tags = {r[0]: r[1:3] for r in card.stats.sections["tags"].rows}
    assert tags and len(tags) == min(15, len(given))
    for tag, captions, mentioned in given:
        if tag in tags:
            assert tags[tag] == (captions, mentioned)
    assert any(m == c for c, m in tags.values()) and any(m < c for c, m in tags.values())


def test_rejections_and_runs_match_sql(wh, card):
    rejections = q(wh, "select annotator, status, reject_reason, count(*) from captions "
                       "where status <> 'accepted' group by all")
    assert sorted(card.stats.sections["rejections"].rows) == sorted(rejections)
    assert {(r[0], r[1]) for r in rejections} == {(LOOPBACK_MODEL, "rejected"),
                                                 (LOOPBACK_MODEL, "failed")}
    runs = {r[0]: r for r in card.stats.sections["runs"].rows}
    meta = dict(q(wh, "select run_id, wall_s from _meta.caption_runs"))
    assert len(meta) == 2
    for run_id, wall_s in meta.items():
        assert runs[run_id][6] == round(wall_s, 1)
        assert runs[run_id][4] == q(wh, f"select count(*) from captions where run_id = "
                                        f"'{run_id}' and status = 'accepted'")[0][0]
    assert sorted(r[3] for r in runs.values())[0] == LOOPBACK_REQUESTS


def test_land_use_is_the_largest_class_of_described_area(wh, card):
    shares = q(wh, """
        select patch_id, coalesce('landuse=' || tags['landuse'], 'natural=' || tags['natural'],
                                  'leisure=' || tags['leisure']) as land_use, sum(area_norm)
        from int_patch_areas_described where land_use is not null group by all""")
    best: dict[int, tuple[float, str]] = {}
    for patch_id, land_use, share in shares:
        best[patch_id] = min(best.get(patch_id, (1e9, "")), (-share, land_use))
    expected: dict[str, int] = {}
    for (patch_id,) in q(wh, "select patch_id from dataset_samples"):
        name = best[patch_id][1] if patch_id in best else "(none)"
        expected[name] = expected.get(name, 0) + 1
    rows = card.stats.sections["land_use"].rows
    assert {r[0]: r[1] for r in rows} == expected
    assert sum(r[1] for r in rows) == card.stats.headline["patches"]
    assert len(rows) >= 3


def test_readme_and_plots_are_written(card):
    text = card.readme.read_text()
    assert text.startswith("---\npretty_name: Sample town\n")
    assert f"| accepted captions | {card.stats.headline['captions']} |" in text
    assert f"| MTLD lexical diversity | {card.stats.headline['mtld']:g} |" in text
    assert "ODbL 1.0" in text and f"`{LOOPBACK_MODEL}`" in text
    for section in card.stats.sections.values():
        assert f"### {section.title}" in text or f"## {section.title}" in text
    assert {p.name for p in card.plots} == {"task_annotator.png", "caption_length.png",
                                            "coverage_map.png"}
    for plot in card.plots:
        assert f"]({plot.name})" in text
        with Image.open(plot) as img:
            assert img.format == "PNG" and img.width > 300 and img.height > 300
            colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 20, f"{plot.name} looks blank"


def test_card_of_an_empty_warehouse_says_what_to_run(tmp_path):
    Warehouse(tmp_path / "empty.duckdb").close()
    with Warehouse(tmp_path / "empty.duckdb", read_only=True) as wh:
        files = write_card(wh, tmp_path / "card")
        stats = collect_stats(wh)
    text = files.readme.read_text()
    assert "No captions have been generated yet: run `rsteller-db caption`." in text
    assert stats.headline == {}
    assert stats.sections["tasks"].rows == []
    assert stats.sections["land_use"].missing == (
        "`card_land_use` is not built yet: run `rsteller-db build`")
    assert "_`card_land_use` is not built yet: run `rsteller-db build`._" in text
    assert all(p.stat().st_size > 1000 for p in files.plots)


def test_stats_command_prints_headline_and_writes_the_card(sample_warehouse, wh, tmp_path):
    runner = CliRunner()
    out = tmp_path / "card"
    res = runner.invoke(main, ["-q", "-w", str(sample_warehouse), "stats", "--out", str(out),
                               "--format", "json"])
    assert res.exit_code == 0, res.output
    figures = {r["figure"]: r["value"] for r in json.loads(res.output)}
    assert figures["captions"] == q(wh, f"select count(*) from ({EXPORTED})")[0][0]
    assert (out / "README.md").is_file() and (out / "coverage_map.png").is_file()


def test_stats_command_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["-w", str(tmp_path / "none.duckdb"), "stats"])
    assert res.exit_code == 1
    absent = tmp_path / "none.duckdb"
    assert res.output == f"Error: no warehouse at {absent}: run `rsteller-db init` first\n"
    Warehouse(tmp_path / "wh.duckdb").close()
    (tmp_path / "file").write_text("x")
    res = runner.invoke(main, ["-q", "-w", str(tmp_path / "wh.duckdb"), "stats", "--out",
                               str(tmp_path / "file")])
    assert res.exit_code != 0
    assert "file" in res.output


def test_stats_help_has_an_example():
    res = CliRunner().invoke(main, ["stats", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output


def test_rule_sections_match_sql(wh, card):
    judged = dict(q(wh, "select status, count(*) from captions "
                        "where status in ('accepted', 'rejected') group by all"))
    verifier = {r[0]: r[1] for r in card.stats.sections["verifier"].rows}
    assert verifier == {"accepted by every rule": judged["accepted"],
                        "rejected by a format rule": judged["rejected"]}
    rules = card.stats.sections["rules"].rows
    assert [r[:4] for r in rules] == [("format", "word_count_task12", LOOPBACK_MODEL,
                                       LOOPBACK_REQUESTS // 3)]
    assert sum(r[3] for r in rules) == judged["rejected"]
    pairs = card.stats.sections["side_by_side"].rows
    both = q(wh, "select request_id from captions where task in (1, 2) group by request_id "
                 "having bool_or(status = 'accepted') and bool_or(status = 'rejected') "
                 "order by 1 limit 5")
    assert [p[0] for p in pairs] == [r[0] for r in both] and pairs
    request, facts, rejected, accepted = pairs[0]
    payload = json.loads(q(wh, f"select payload from caption_requests "
                               f"where request_id = '{request}'")[0][0])
    geometry = payload["geometry"]
    assert geometry.get("size_words", geometry.get("orientation_words")) in facts
    assert rejected.endswith("(word_count_task12)") and accepted.endswith(")")
    text = card.readme.read_text()
    assert "### The caption rules and the verifier" in text
    assert f"| format | word_count_task12 | {LOOPBACK_MODEL} |" in text


def test_runs_record_the_rule_book_that_judged_them(wh):
    from rsteller_db.caption.rules import load_rules

    books = [json.loads(r) for (r,) in q(wh, "select rules from _meta.caption_runs")]
    assert books and all(b == {r.name: r.kind for r in load_rules()} for b in books)
