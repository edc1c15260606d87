"""Ingest of PBFs: source bookkeeping, idempotence, --replace, bad input, several extracts."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from osm_support import OsmWarehouse, PbfBuilder, square

from rsteller_db.cli import main
from rsteller_db.errors import InputError
from rsteller_db.osm import file_sha256, ingest_osm, read_pbf_header

STAMP = datetime(2024, 5, 6, 7, 8, 9)


def small(variant: int = 0) -> PbfBuilder:
    b = PbfBuilder()
    b.ring(1, square(0, 0, 50), {"building": "yes"})
    b.line(2, [(0, 100), (200, 100 + variant)], {"highway": "residential"})
    b.node(10, 10, {"amenity": "bench"})
    return b


@pytest.fixture
def w(tmp_path):
    w = OsmWarehouse(tmp_path)
    yield w
    w.close()


def state(w: OsmWarehouse) -> tuple:
    """Everything an ingest may touch."""
    return (w.rows("SELECT * EXCLUDE (ingested_at) FROM _meta.sources ORDER BY source_id"),
            w.rows("SELECT source_id, kind::VARCHAR, count(*), sum(id) FROM raw.osm_elements "
                   "GROUP BY ALL ORDER BY ALL"))


def test_header_gives_the_replication_timestamp_and_bbox(tmp_path):
    pbf = small().write(tmp_path / "a.osm.pbf", replication_timestamp=STAMP,
                        bbox=(-75.01, 40.99, -74.99, 41.01))
    head = read_pbf_header(pbf)
    assert head.replication_timestamp == STAMP
    assert head.bbox == pytest.approx((-75.01, 40.99, -74.99, 41.01))
    assert head.writing_program == "rsteller-db tests"
    assert "DenseNodes" in head.required_features


def test_ingest_records_the_source(w, tmp_path):
    pbf = small().write(tmp_path / "a.osm.pbf", replication_timestamp=STAMP)
    src = ingest_osm(w.wh, pbf)
    assert (src.status, src.counts) == ("ingested", {"node": 7, "way": 2, "relation": 0})
    row = w.one("SELECT kind, name, uri, size_bytes, sha256, snapshot_at, details "
                "FROM _meta.sources WHERE source_id = ?", [src.source_id])
    assert row[:6] == ("osm", "a.osm.pbf", pbf.resolve().as_uri(), pbf.stat().st_size,
                       file_sha256(pbf), STAMP)
    details = json.loads(row[6])
    assert details["header"]["replication_timestamp"] == STAMP.isoformat()
    assert details["counts"] == {"node": 7, "way": 2, "relation": 0}
    assert w.one("SELECT count(*) FROM raw.osm_elements WHERE source_id = ?",
                 [src.source_id])[0] == 9


def test_same_file_again_is_a_no_op(w, tmp_path):
    pbf = small().write(tmp_path / "a.osm.pbf")
    first = ingest_osm(w.wh, pbf)
    before = state(w)
    again = ingest_osm(w.wh, pbf)
    assert (again.status, again.source_id) == ("unchanged", first.source_id)
    assert state(w) == before


def test_a_new_file_under_an_ingested_name_needs_replace(w, tmp_path):
    (tmp_path / "v2").mkdir()
    old = ingest_osm(w.wh, small(0).write(tmp_path / "a.osm.pbf"))
    new_pbf = small(5).write(tmp_path / "v2" / "a.osm.pbf")
    before = state(w)
    with pytest.raises(InputError, match="pass --replace to swap it"):
        ingest_osm(w.wh, new_pbf)
    assert state(w) == before
    new = ingest_osm(w.wh, new_pbf, replace=True)
    assert (new.status, new.replaced_source_id) == ("replaced", old.source_id)
    assert w.rows("SELECT source_id, sha256 FROM _meta.sources") == [
        (new.source_id, file_sha256(new_pbf))]
    assert w.rows("SELECT DISTINCT source_id FROM raw.osm_elements") == [(new.source_id,)]


def test_a_new_ingest_makes_build_rebuild(w, tmp_path):
    ingest_osm(w.wh, small(0).write(tmp_path / "a.osm.pbf"))
    w.build()
    assert w.build().built == []
    (tmp_path / "v2").mkdir()
    ingest_osm(w.wh, small(5).write(tmp_path / "v2" / "a.osm.pbf"), replace=True)
    assert "stg_osm__elements" in w.build().built


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: None, "no such file: {p}: check the path"),
    (lambda p: p.write_text("<osm version='0.6'></osm>\n"), "{p} is not an OSM PBF file"),
    (lambda p: p.write_bytes(b""), "{p} is empty"),
    (lambda p: p.write_bytes(small().write(p).read_bytes()[:-40]), "{p} is truncated"),
])
def test_bad_input_leaves_the_warehouse_as_it_was(w, tmp_path, make, message):
    ingest_osm(w.wh, small().write(tmp_path / "good.osm.pbf"))
    before = state(w)
    bad = tmp_path / "bad.osm.pbf"
    make(bad)
    with pytest.raises(InputError) as caught:
        ingest_osm(w.wh, bad)
    assert str(caught.value).startswith(message.format(p=bad))
    assert state(w) == before


def _corrupt_last_block(path):
    """Keep every block's size (the file walk passes) but spoil the compressed data."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 30, len(data) - 10):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_failure_inside_the_load_rolls_back_a_replace(w, tmp_path):
    ingest_osm(w.wh, small().write(tmp_path / "a.osm.pbf"))
    before = state(w)
    (tmp_path / "v2").mkdir()
    bad = small(5).write(tmp_path / "v2" / "a.osm.pbf")
    _corrupt_last_block(bad)
    read_pbf_header(bad)  # the walk cannot see it: DuckDB fails mid-load
    with pytest.raises(InputError, match="is damaged .* the warehouse is unchanged"):
        ingest_osm(w.wh, bad, replace=True)
    assert state(w) == before


def test_neighbouring_extracts_share_objects_once(w, tmp_path):
    """A street crosses the border: each extract lacks one of its nodes, together none."""
    west, east = PbfBuilder(), PbfBuilder()
    for b, ids in ((west, (1, 2)), (east, (2, 3))):
        coords = {1: (0, 0), 2: (100, 0), 3: (200, 0)}
        for nid in ids:
            b.node(*coords[nid], node_id=nid, tags={"highway": "stop"} if nid == 2 else None)
        b.way(7, [1, 2, 3], {"highway": "primary"})
    west.ring(8, square(0, 50, 20), {"building": "yes"})
    east.ring(9, square(150, 50, 20), {"building": "yes"})
    ingest_osm(w.wh, west.write(tmp_path / "west.osm.pbf"))
    ingest_osm(w.wh, east.write(tmp_path / "east.osm.pbf"))
    w.build()
    rows = w.rows("SELECT osm_type, osm_id, kind, ST_NPoints(geom) FROM stg_osm__elements "
                  "ORDER BY element_id")
    assert rows == [("node", 2, "point", 1), ("way", 7, "line", 3), ("way", 8, "area", 5),
                    ("way", 9, "area", 5)]
    assert w.one("SELECT count(*) FROM stg_osm__problems")[0] == 0


# -- the command line ------------------------------------------------------------------

def run(tmp_path, *args):
    return CliRunner().invoke(main, ["--warehouse", str(tmp_path / "cli.duckdb"), "--quiet",
                                     "ingest", "osm", *map(str, args)])


def test_cli_ingests_and_reports(tmp_path):
    pbf = small().write(tmp_path / "a.osm.pbf", replication_timestamp=STAMP)
    result = run(tmp_path, pbf, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "source_id,name,status,nodes,ways,relations,snapshot_at",
        "1,a.osm.pbf,ingested,7,2,0,2024-05-06 07:08:09",
    ]
    again = run(tmp_path, pbf, "--format", "csv")
    assert again.output.splitlines()[1] == "1,a.osm.pbf,unchanged,7,2,0,2024-05-06 07:08:09"


def test_quiet_keeps_duckdb_own_progress_bar_off_through_an_ingest(tmp_path):
    # DuckDB prints its own bar on queries over 2 s; --quiet turns it off, and the ingest,
    # which tracks query progress for its own bar, gives the connection its setting back
    from rsteller_db.cli.common import App
    from rsteller_db.osm.ingest import _QueryProgress
    from rsteller_db.progress import Reporter
    from rsteller_db.warehouse import Warehouse

    shown = "select current_setting('enable_progress_bar') as bar, " \
            "current_setting('enable_progress_bar_print') as printed"
    with App(str(tmp_path / "q.duckdb")).open() as wh:  # DuckDB prints by default
        assert wh.con.execute(shown).fetchone()[1] is True
    with App(str(tmp_path / "q.duckdb"), quiet=True).open() as wh:
        assert wh.con.execute(shown).fetchone() == (False, False)
    with Warehouse(tmp_path / "w.duckdb", progress_bar=False) as wh, \
            Reporter(quiet=True).bar("loading", total=100) as bar:
        with _QueryProgress(wh.con, bar):
            assert wh.con.execute(shown).fetchone() == (True, False)
        assert wh.con.execute(shown).fetchone() == (False, False)


def test_cli_bad_files_give_one_error_line_and_load_nothing(tmp_path):
    good = small().write(tmp_path / "a.osm.pbf")
    missing = tmp_path / "missing.osm.pbf"
    result = run(tmp_path, good, missing)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no such file: {missing}: check the path (download an extract, "
        "or run `rsteller-db sample` for the bundled one)\n")
    assert not (tmp_path / "cli.duckdb").exists()


def test_cli_replace_message_names_the_flag(tmp_path):
    (tmp_path / "v2").mkdir()
    run(tmp_path, small(0).write(tmp_path / "a.osm.pbf"))
    result = run(tmp_path, small(5).write(tmp_path / "v2" / "a.osm.pbf"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: another file named a.osm.pbf is already ingested "
                                    "as source 1")
    assert "pass --replace to swap it" in result.output


def test_cli_help_has_an_example():
    result = CliRunner().invoke(main, ["ingest", "osm", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--replace" in result.output
