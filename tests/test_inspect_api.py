"""The Python API: rsteller_db.connect, and every docs/queries.md pair returning the same rows on
the sample warehouse (built by the real pipeline)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import ibis
import pytest
import shapely
from click.testing import CliRunner

from rsteller_db.api import connect
from rsteller_db.cli import main
from rsteller_db.errors import WarehouseError
from rsteller_db.query import run_query
from rsteller_db.warehouse import Warehouse

DOC = Path(__file__).resolve().parent.parent / "docs" / "queries.md"
BLOCK = re.compile(r"^## (\d+)\. (.+?)$|^```(sql|python)\n(.*?)^```", re.M | re.S)


def doc_pairs() -> list[tuple[str, str, str]]:
    """(question, sql, python) for each numbered question of docs/queries.md."""
    pairs, current = [], None
    for number, title, lang, body in BLOCK.findall(DOC.read_text()):
        if number:
            current = {"q": f"{number}. {title}"}
            pairs.append(current)
        elif current is not None:
            current[lang] = body
    return [(p["q"], p["sql"], p["python"]) for p in pairs]


@pytest.fixture(scope="module")
def demo(sample_warehouse):
    return sample_warehouse  # shared: only read here


def normal(rows) -> list[tuple]:
    def cell(v):
        if isinstance(v, float) and not math.isnan(v):
            return round(v, 9)
        return v
    return [tuple(cell(v) for v in row) for row in rows]


def test_docs_hold_at_least_six_questions_each_in_sql_and_ibis():
    pairs = doc_pairs()
    assert len(pairs) >= 6
    titles = " ".join(q for q, _, _ in pairs).lower()
    for topic in ("task and annotator", "land use", "length", "bounding box", "rejection", "tags"):
        assert topic in titles


@pytest.mark.parametrize("question,sql,code", doc_pairs(), ids=[q for q, _, _ in doc_pairs()])
def test_ibis_returns_the_same_rows_as_sql(demo, question, sql, code):
    with Warehouse(demo, read_only=True) as wh:
        expected = run_query(wh, sql)
    assert expected.rows, f"{question}: the sample must give rows, or the test proves nothing"
    con = connect(demo)
    scope = {"con": con, "ibis": ibis, "_": ibis._, "shapely": shapely}
    exec(compile(code, f"docs/queries.md: {question}", "exec"), scope)
    table = scope["result"].to_pyarrow()
    assert table.column_names == expected.columns
    got = [tuple(r.values()) for r in table.to_pylist()]
    assert normal(got) == normal(expected.rows)


def test_the_sql_also_runs_through_the_query_command(demo):
    _, sql, _ = doc_pairs()[0]
    res = CliRunner().invoke(main, ["-q", "-w", str(demo), "query", "--format", "csv", sql])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "task,annotator,captions"


def test_connect_is_read_only_with_spatial_and_meta_tables(demo):
    con = connect(demo)
    assert {"captions", "caption_requests", "int_patches_gridded"} <= set(con.list_tables())
    assert con.table("sources", database="_meta").count().to_pyarrow().as_py() == 2
    area = con.table("int_patches_gridded").geom_native.area().max().to_pyarrow().as_py()
    assert area == pytest.approx(268.8 ** 2)
    with pytest.raises(Exception, match="read-only"):
        con.raw_sql("create table scratch as select 1")
    assert con.warehouse.path == demo


def test_connect_finds_the_warehouse_from_the_environment(demo, monkeypatch):
    monkeypatch.setenv("RSTELLER_WAREHOUSE", str(demo))
    assert "captions" in connect().list_tables()


def test_connect_to_a_missing_warehouse_says_how_to_fix_it(tmp_path):
    with pytest.raises(WarehouseError, match=r"no warehouse at .*: run `rsteller-db init` first"):
        connect(tmp_path / "absent.duckdb")


def test_library_helpers_write_the_card_and_the_preview(demo, tmp_path):
    from rsteller_db.api import preview, stats

    numbers = stats(demo)
    written = stats(demo, tmp_path / "card")
    assert numbers.headline == written.headline and numbers.headline["captions"] > 0
    assert (tmp_path / "card" / "README.md").is_file()
    result = preview(demo, tmp_path / "p.html", n=2, task=1)
    assert len(result.samples) == 2 and {s.task for s in result.samples} == {1}
