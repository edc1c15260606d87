"""The inspection tools on the real pipeline: sample, build, template captions, images."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from rsteller_db.api import connect
from rsteller_db.cli import main
from rsteller_db.inspect import write_card, write_preview
from rsteller_db.warehouse import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    wh = root / "wh" / "rsteller.duckdb"
    wh.parent.mkdir()
    runner = CliRunner()
    steps = [["sample", "--out", str(root / "sample")], ["init"],
             ["ingest", "osm", str(root / "sample" / "town.osm.pbf")],
             ["ingest", "naip", "--source", "local", str(root / "sample")], ["build"],
             ["caption", "--backend", "template"], ["images", "fetch"]]
    for step in steps:
        res = runner.invoke(main, ["-q", "-w", str(wh), *step], catch_exceptions=False)
        assert res.exit_code == 0, f"{step}: {res.output}"
    return wh


def test_card_on_the_built_sample_matches_sql(built, tmp_path):
    with Warehouse(built, read_only=True) as wh:
        files = write_card(wh, tmp_path / "card")
        accepted, patches = wh.con.execute(
            "select count(*), count(distinct patch_id) from captions "
            "where status = 'accepted'").fetchone()
        ok = wh.con.execute("select count(*) from patch_images where status = 'ok'").fetchone()[0]
    head = files.stats.headline
    assert accepted > 0
    assert (head["captions"], head["patches"], head["images_ok"]) == (accepted, patches, ok)
    assert files.stats.sections["tags"].rows and files.stats.sections["land_use"].rows
    assert all(p.stat().st_size > 5000 for p in files.plots)


def test_preview_on_the_built_sample_draws_every_outline(built, tmp_path):
    with Warehouse(built, read_only=True) as wh:
        result = write_preview(wh, tmp_path / "preview.html")
    assert result.samples and not result.skipped
    assert all(s.shapes for s in result.samples)
    assert all(0 <= float(v) <= 448 for s in result.samples for _, d in s.shapes
               for v in d.replace("M", " ").replace("L", " ").replace("Z", " ").split())


def test_ibis_counts_match_the_query_command(built):
    con = connect(built)
    c = con.table("captions")
    accepted = c.filter(c.status == "accepted")
    counts = (accepted.group_by("task").agg(n=accepted.count())
              .order_by("task").to_pyarrow().to_pylist())
    res = CliRunner().invoke(main, ["-q", "-w", str(built), "query", "--format", "csv",
                                    "select task, count(*) as n from captions "
                                    "where status = 'accepted' group by task order by task"])
    assert res.output.splitlines()[1:] == [f"{r['task']},{r['n']}" for r in counts]
