"""The SQL stage runner: order, idempotence, audits, bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsteller_db import stages
from rsteller_db.errors import AuditError, StageError
from rsteller_db.paths import sql_folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def stage(root: Path, layer: str, file: str, select: str, *, kind: str = "table",
          grain: str | None = "thing_id") -> Path:
    """A stage file of ``layer`` under ``root``: the header the runner reads, then ``select``."""
    header = f"-- kind: {kind}\n" + (f"-- grain: {grain}\n" if grain else "")
    return write(sql_folder(layer, root) / file, header + select + "\n")


def things(n: int, colours: int) -> str:
    """stg_things' SELECT: ``n`` things coloured in turn with colour ids 1 .. ``colours``."""
    return f"select range as thing_id, range % {colours} + 1 as colour_id from range({n})"


@pytest.fixture
def sql_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sql"
    write(sql_folder("seeds", root) / "colours.csv", "colour_id,name\n1,red\n2,green\n3,blue\n")
    stage(root, "staging", "10_stg_things.sql", things(10, 3))
    stage(root, "intermediate", "10_int_things_coloured.sql",
          "select t.thing_id, c.name from stg_things t join colours c using (colour_id)")
    stage(root, "marts", "05_things.sql",
          "select * from int_things_coloured where thing_id < setting('patch_size_px')::int",
          kind="view")
    return root


def test_discover_orders_seeds_then_layers(sql_dir: Path):
    found = stages.discover(sql_dir)
    assert [(s.name, s.layer, s.kind) for s in found] == [
        ("colours", "seeds", "seed"),
        ("stg_things", "staging", "table"),
        ("int_things_coloured", "intermediate", "table"),
        ("things", "marts", "view"),
    ]
    assert found[1].grain == "thing_id"


def test_build_runs_in_order_and_records(warehouse, sql_dir: Path):
    result = stages.build(warehouse, sql_dir=sql_dir)
    assert result.built == ["colours", "stg_things", "int_things_coloured", "things"]
    rows = warehouse.con.execute(
        "select stage, status, row_count from _meta.stage_runs order by run_id"
    ).fetchall()
    assert rows == [
        ("colours", "built", 3),
        ("stg_things", "built", 10),
        ("int_things_coloured", "built", 10),
        ("things", "built", 10),
    ]
    hashes = warehouse.con.execute("select sql_hash, duration_s from _meta.stage_runs").fetchall()
    assert all(len(h) == 64 and d >= 0 for h, d in hashes)
    assert (
        warehouse.con.execute("select count(*) from things where name = 'red'").fetchone()[0] == 4
    )


def test_second_build_is_a_noop(warehouse, sql_dir: Path):
    stages.build(warehouse, sql_dir=sql_dir)
    before = warehouse.con.execute("select * from int_things_coloured order by 1").fetchall()
    again = stages.build(warehouse, sql_dir=sql_dir)
    assert again.built == []
    assert {r.status for r in again.results} == {"skipped"}
    assert (
        warehouse.con.execute("select * from int_things_coloured order by 1").fetchall() == before
    )


def test_editing_a_stage_rebuilds_it_and_what_follows(warehouse, sql_dir: Path):
    stages.build(warehouse, sql_dir=sql_dir)
    stage(sql_dir, "intermediate", "10_int_things_coloured.sql",
          "select t.thing_id, upper(c.name) as name from stg_things t "
          "join colours c using (colour_id)")
    again = stages.build(warehouse, sql_dir=sql_dir)
    assert again.built == ["int_things_coloured", "things"]
    assert (
        warehouse.con.execute("select count(*) from things where name = 'RED'").fetchone()[0] == 4
    )


def test_a_new_source_rebuilds_only_what_reads_it(warehouse, tmp_path: Path):
    root = tmp_path / "sql"
    stage(root, "staging", "10_stg_osm_count.sql", "select count(*) as n from raw.osm_elements",
          grain="n")
    stage(root, "staging", "20_stg_image_count.sql", "select count(*) as n from raw.naip_images",
          grain="n")
    stage(root, "marts", "10_counts.sql",
          "select o.n + i.n as n from stg_osm_count o, stg_image_count i", grain="n")
    assert stages.build(warehouse, sql_dir=root).built == [
        "stg_osm_count", "stg_image_count", "counts"]
    warehouse.con.execute(
        "insert into _meta.sources (kind, name, uri, sha256) values ('naip', 'x', '/x', 'abc')")
    assert stages.build(warehouse, sql_dir=root).built == ["stg_image_count", "counts"]
    warehouse.con.execute(
        "insert into _meta.sources (kind, name, uri, sha256) values ('osm', 'x.pbf', '/x', 'a')")
    assert stages.build(warehouse, sql_dir=root).built == ["stg_osm_count", "counts"]
    assert stages.build(warehouse, sql_dir=root).built == []


def test_settings_rebuild_only_the_stages_that_read_them(warehouse, sql_dir: Path):
    from rsteller_db.settings import load_settings

    stages.build(warehouse, sql_dir=sql_dir)
    found = {s.name: s for s in stages.discover(sql_dir)}
    assert found["things"].settings == ("patch_size_px",)
    assert found["int_things_coloured"].reads == ("colours", "stg_things")
    # no stage reads the engine settings: changing them rebuilds nothing
    warehouse.settings = load_settings(overrides={"threads": 1, "memory_limit": "1GB"})
    warehouse.store_settings()
    assert stages.build(warehouse, sql_dir=sql_dir).built == []
    warehouse.settings = load_settings(overrides={"patch_size_px": 5})
    warehouse.store_settings()
    assert stages.build(warehouse, sql_dir=sql_dir).built == ["things"]
    assert warehouse.con.execute("select count(*) from things").fetchone()[0] == 5


def test_a_table_over_a_live_table_is_rebuilt_every_time(warehouse, tmp_path: Path):
    root = tmp_path / "sql"
    stage(root, "marts", "10_caption_count.sql", "select count(*) as n from captions", grain="n")
    stage(root, "marts", "20_caption_view.sql", "select count(*) as n from captions", grain="n",
          kind="view")
    assert stages.build(warehouse, sql_dir=root).built == ["caption_count", "caption_view"]
    assert stages.build(warehouse, sql_dir=root).built == ["caption_count"]


def test_a_stage_reading_a_later_one_is_refused(tmp_path: Path):
    root = tmp_path / "sql"
    write(sql_folder("staging", root) / "10_stg_a.sql", "-- kind: view\nselect * from stg_b")
    write(sql_folder("staging", root) / "20_stg_b.sql", "-- kind: view\nselect 1 as x")
    with pytest.raises(StageError, match="reads stg_b, which is built after it"):
        stages.discover(root)
    write(sql_folder("staging", root) / "10_stg_a.sql",
          "-- kind: view\nselect setting(key) from stg_b")
    with pytest.raises(StageError, match=r"setting\(\) takes a literal key"):
        stages.discover(root)


def test_only_from_to(warehouse, sql_dir: Path):
    assert stages.build(warehouse, sql_dir=sql_dir, stop="stg_things").built == [
        "colours",
        "stg_things",
    ]
    assert stages.build(
        warehouse, sql_dir=sql_dir, start="int_things_coloured", force=True
    ).built == ["int_things_coloured", "things"]
    assert stages.build(warehouse, sql_dir=sql_dir, only=["things"], force=True).built == ["things"]
    with pytest.raises(StageError, match="unknown stage 'nope'"):
        stages.build(warehouse, sql_dir=sql_dir, only=["nope"])


def test_audit_rows_stop_the_build_and_roll_back(warehouse, sql_dir: Path):
    stages.build(warehouse, sql_dir=sql_dir)
    stage(sql_dir, "staging", "10_stg_things.sql", things(12, 4))  # colour 4 does not exist
    write(
        sql_folder("audits", sql_dir) / "stg_things__known_colour.sql",
        "select * from stg_things where colour_id not in (select colour_id from colours)",
    )
    with pytest.raises(
        AuditError, match="audit stg_things__known_colour failed after stage stg_things"
    ) as err:
        stages.build(warehouse, sql_dir=sql_dir)
    assert err.value.columns == ["thing_id", "colour_id"]
    assert err.value.rows[0] == (3, 4)
    # rolled back: the old table is still there, and later stages did not run
    assert warehouse.con.execute("select count(*) from stg_things").fetchone()[0] == 10
    last = warehouse.con.execute(
        "select stage, status from _meta.stage_runs order by run_id desc limit 1"
    ).fetchone()
    assert last == ("stg_things", "failed")


def test_bad_stage_files_are_refused(tmp_path: Path):
    root = tmp_path / "sql"
    write(sql_folder("staging", root) / "10_stg_x.sql", "select 1")
    with pytest.raises(StageError, match="needs '-- kind: table' or '-- kind: view'"):
        stages.discover(root)
    write(sql_folder("staging", root) / "10_stg_x.sql", "-- kind: table\nselect 1; select 2")
    with pytest.raises(StageError, match="exactly one SELECT"):
        stages.discover(root)
    write(sql_folder("staging", root) / "10_stg_x.sql", "-- kind: table\nselect 1 as a")
    write(sql_folder("marts", root) / "10_stg_x.sql", "-- kind: view\nselect 1 as a")
    with pytest.raises(StageError, match="two stage files build the same relation: stg_x"):
        stages.discover(root)


def test_failing_sql_names_the_stage(warehouse, tmp_path: Path):
    root = tmp_path / "sql"
    write(
        sql_folder("staging", root) / "10_stg_x.sql",
        "-- kind: table\nselect * from missing_table",
    )
    with pytest.raises(StageError, match=r"stage stg_x \(.*10_stg_x.sql\) failed: Catalog Error"):
        stages.build(warehouse, sql_dir=root)


def test_project_stages_are_well_formed():
    """Every file in the project's own sql/ parses: one SELECT, a header, a unique name."""
    found = stages.discover()
    assert {"osm_area_rules", "osm_tag_drop_rules"} <= {s.name for s in found}
    missing_grain = [s.name for s in found if s.kind != "seed" and not s.grain]
    assert missing_grain == []
