"""The dataset card: its numbers against direct queries, its plots, and the stats command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from rsteller_db.cli import main
from rsteller_db.inspect import collect_stats, mtld, tokenize, write_card
from rsteller_db.inspect.demo import build_demo_warehouse
from rsteller_db.warehouse import Warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_warehouse(tmp_path_factory.mktemp("card") / "wh.duckdb").path


@pytest.fixture(scope="module")
def wh(demo):
    with Warehouse(demo, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def card(wh, tmp_path_factory):
    return write_card(wh, tmp_path_factory.mktemp("card_out"), name="Demo town")


def q(wh, sql):
    return wh.con.execute(sql).fetchall()


def test_counts_by_task_and_annotator_match_sql(wh, card):
    direct = q(wh, "select task, annotator, count(*) from captions "
                     "where status = 'accepted' group by all order by all")
    assert [r[:3] for r in card.stats.sections["tasks"].rows] == direct
    assert card.stats.headline["captions"] == sum(r[2] for r in direct)
    assert card.stats.headline["patches"] == q(
        wh, "select count(distinct patch_id) from captions where status = 'accepted'")[0][0]
    assert card.stats.headline["annotators"] == 2


def test_lengths_match_sql(wh, card):
    words = q(wh, "select task, len(string_split(text, ' ')) from captions "
                    "where status = 'accepted' order by caption_id")
    all_row = card.stats.sections["lengths"].rows[-1]
    counts = [w for _, w in words]
    assert all_row[0] == "all"
    assert all_row[1] == len(counts)
    assert (all_row[2], all_row[6]) == (min(counts), max(counts))
    assert all_row[3] == round(sum(counts) / len(counts), 1)
    assert sorted(card.stats.words_by_task[3]) == sorted(w for t, w in words if t == 3)


def test_vocabulary_and_mtld_match_the_captions(wh, card):
    texts = [r[0] for r in q(wh, "select text from captions where status = 'accepted' "
                                   "order by caption_id")]
    stream = [t for text in texts for t in tokenize(text)]
    assert card.stats.headline["tokens"] == len(stream)
    assert card.stats.headline["vocabulary"] == len(set(stream))
    assert card.stats.headline["mtld"] == round(mtld(stream), 2)
    assert card.stats.headline["mtld"] > 10


def test_tags_rejections_and_runs_match_sql(wh, card):
    farmland = q(wh, """select count(*) from captions c join caption_requests r using (request_id),
                                 unnest(from_json(r.payload -> '$.element.tags',
                                                  '[{"key": "VARCHAR", "value": "VARCHAR"}]')) u(t)
                          where c.status = 'accepted' and c.task in (1, 2)
                            and t.key = 'landuse' and t.value = 'farmland'""")[0][0]
    tags = {r[0]: r[1:] for r in card.stats.sections["tags"].rows}
    assert tags["landuse=farmland"][0] == farmland
    assert tags["landuse=farmland"][1] == farmland  # every farmland caption says "farmland"
    assert tags["crop=corn"][1] == 0  # the captions never mention the crop
    rejections = q(wh, "select annotator, status, reject_reason, count(*) from captions "
                         "where status <> 'accepted' group by all")
    assert sorted(card.stats.sections["rejections"].rows) == sorted(rejections)
    runs = {r[0]: r for r in card.stats.sections["runs"].rows}
    meta = dict(q(wh, "select run_id, wall_s from _meta.caption_runs"))
    for run_id, wall_s in meta.items():
        assert runs[run_id][6] == round(wall_s, 1)
        assert runs[run_id][4] == q(wh, f"select count(*) from captions where run_id = "
                                          f"'{run_id}' and status = 'accepted'")[0][0]


def test_land_use_matches_the_docs_definition(wh, card):
    rows = card.stats.sections["land_use"].rows
    assert sum(r[1] for r in rows) == card.stats.headline["patches"]
    assert rows[0][0] == "landuse=farmland"
    assert {"landuse=forest", "natural=water", "leisure=park"} <= {r[0] for r in rows}


def test_readme_and_plots_are_written(card):
    text = card.readme.read_text()
    assert text.startswith("---\npretty_name: Demo town\n")
    assert f"| accepted captions | {card.stats.headline['captions']} |" in text
    assert f"| MTLD lexical diversity | {card.stats.headline['mtld']:g} |" in text
    assert "ODbL 1.0" in text and "mistralai/Mistral-Nemo-Instruct-2407" in text
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
    assert stats.sections["tasks"].rows == [] and "_none._" in text
    assert stats.sections["land_use"].missing == (
        "`stg_osm__elements` is not built yet: run `rsteller-db ingest osm && rsteller-db build`")
    assert all(p.stat().st_size > 1000 for p in files.plots)


def test_stats_command_prints_headline_and_writes_the_card(demo, wh, tmp_path):
    runner = CliRunner()
    out = tmp_path / "card"
    res = runner.invoke(main, ["-q", "-w", str(demo), "stats", "--out", str(out),
                               "--format", "json"])
    assert res.exit_code == 0, res.output
    figures = {r["figure"]: r["value"] for r in json.loads(res.output)}
    assert figures["captions"] == q(wh, "select count(*) from captions "
                                      "where status = 'accepted'")[0][0]
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
    assert verifier["accepted by every rule"] == judged["accepted"]
    # the demo's rejections name a rule that is not in sql/50_caption_rules/ (any more)
    assert verifier["rejected by a retired rule"] == judged["rejected"]
    rules = card.stats.sections["rules"].rows
    assert {(r[0], r[1]) for r in rules} == {("retired", "too_few_words")}
    assert sum(r[3] for r in rules) == judged["rejected"]
    pairs = card.stats.sections["side_by_side"].rows
    both = q(wh, "select request_id from captions where task in (1, 2) group by request_id "
                 "having bool_or(status = 'accepted') and bool_or(status = 'rejected') "
                 "order by 1 limit 5")
    assert [p[0] for p in pairs] == [r[0] for r in both] and pairs
    request, facts, rejected, accepted = pairs[0]
    payload = json.loads(q(wh, f"select payload from caption_requests "
                               f"where request_id = '{request}'")[0][0])
    assert payload["geometry"].get("size_words", "") in facts
    assert rejected.endswith("(too_few_words)") and accepted.endswith(")")
    text = card.readme.read_text()
    assert "### The caption rules and the verifier" in text
    assert "| retired | too_few_words |" in text
