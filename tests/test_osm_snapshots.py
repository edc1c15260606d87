"""Per-image OSM snapshots from a full-history extract: each image sees the map as of its
acquisition date + osm_date_offset_days, down to the caption payloads, the export's manifest
and the dataset card; a plain extract gives the same results as ever (tests/history_world.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import shapely
from history_world import (
    AFTER,
    EARLY,
    LATE,
    MOVED,
    cli,
    make_history,
    make_warehouse,
    write_images,
    write_meadow,
)
from scale_world import table_differences

from rsteller_db.inspect.card import collect_stats
from rsteller_db.warehouse import Warehouse

# the map each date sees (acquired_on + 30 days): early = before every change but the park's
# rename, late = after all of them
SEES = {
    EARLY: {"building": None, "park": "Mill Park", "lake": "left", "road": "residential",
            "osm_snapshot_at": "2021-08-31T00:00:00Z"},
    LATE: {"building": "warehouse", "park": None, "lake": "right", "road": "tertiary",
           "osm_snapshot_at": "2022-08-31T00:00:00Z"},
}
PATCHES = {(0, 0): "building", (1, 0): "park", (0, 1): "lake", (1, 1): "road"}  # (col, row)


def requests(warehouse: Path) -> dict[tuple[str, int, int], dict]:
    """(image date, col, row) -> payload of the patch's caption request."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT g.image_name, g.col, g.row, q.payload FROM caption_requests q "
                           "JOIN int_patches_gridded g USING (patch_id)").fetchall()
    return {(name[-8:], col, row): json.loads(payload) for name, col, row, payload in rows}


def date_key(acquired_on: str) -> str:
    return acquired_on.replace("-", "")


_WORLDS: dict[str, tuple[dict[str, str], Path]] = {}


def _world(layout: str, tmp_path_factory) -> tuple[dict[str, str], Path]:
    if layout not in _WORLDS:
        root = tmp_path_factory.mktemp("history")
        dates = {"A": EARLY, "B": LATE} if layout == "A early" else {"A": LATE, "B": EARLY}
        pbf = make_history().write(root / "town.osh.pbf")
        write_images(root / "naip", {**dates, "C": AFTER})
        _WORLDS[layout] = dates, make_warehouse(root / "wh", pbf, root / "naip")
    return _WORLDS[layout]


@pytest.fixture(scope="module", params=["A early", "B early"])
def world(request, tmp_path_factory) -> tuple[dict[str, str], Path]:
    """Both layouts: the early image over part A and the late one over B, then swapped, so
    each part's features are seen at both dates. Part C's image comes after the history.
    Built once each (with captions, images and an export); read them only."""
    return _world(request.param, tmp_path_factory)


@pytest.fixture
def a_early_copy(tmp_path_factory, tmp_path) -> Path:
    """A private copy of the "A early" world's warehouse folder."""
    _, warehouse = _world("A early", tmp_path_factory)
    shutil.copytree(warehouse.parent, tmp_path / "wh")
    return tmp_path / "wh" / warehouse.name


def test_each_image_sees_its_own_version_down_to_the_payloads(world):
    dates, warehouse = world
    got = requests(warehouse)
    for part, acquired_on in dates.items():
        sees, day = SEES[acquired_on], date_key(acquired_on)
        for (col, row), feature in PATCHES.items():
            payload = got.get((day, col, row))
            if sees[feature] is None:  # not built yet / deleted: the patch has nothing to say
                assert payload is None, (part, acquired_on, feature, payload)
                continue
            assert payload["patch"]["osm_snapshot_at"] == sees["osm_snapshot_at"]
            assert payload["patch"]["osm_gap_days"] == 30
            tags = {t["key"]: t["value"] for t in payload["element"]["tags"]}
            if feature == "building":
                assert tags == {"building": "warehouse"}
            elif feature == "park":
                assert payload["element"]["name"] == sees["park"]  # renamed inside the offset
            elif feature == "road":
                assert payload["element"]["osm_id"] == 200 and tags["highway"] == sees["road"]
            else:  # the lake: its outline lies in the patch's left or right half
                assert payload["element"]["name"] == f"Long Pond {part}"
                outline = shapely.from_wkt(payload["geometry"]["outline"])
                x0, _, x1, _ = outline.bounds
                assert (x1 < 0.5) if sees["lake"] == "left" else (x0 > 0.5), outline


def test_the_shared_road_has_one_state_per_date(world):
    _, warehouse = world
    with duckdb.connect(str(warehouse), read_only=True) as con:
        states = con.execute("SELECT tags['highway'], osm_from, osm_until FROM stg_osm__elements "
                             "WHERE element_id = 2002 ORDER BY osm_from").fetchall()
        seen = dict(con.execute(
            "SELECT i.acquired_on::VARCHAR, j.tags['highway'] FROM int_patch_elements_joined j "
            "JOIN int_patches_gridded g USING (patch_id) "
            "JOIN stg_naip__images i USING (image_name) WHERE j.element_id = 2002").fetchall())
        exported = dict(con.execute(
            "SELECT acquired_on::VARCHAR, tags['highway'] FROM dataset_samples "
            "WHERE element_id = 2002").fetchall())
    # cut at the late image's time: the retag (2022-02-01) lies between the two OSM times
    assert [s[0] for s in states] == ["residential", "tertiary"]
    assert states[0][2] == states[1][1] == datetime(2022, 8, 31)
    assert seen == exported == {EARLY: "residential", LATE: "tertiary"}


def test_each_image_records_its_osm_time(world):
    _, warehouse = world
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT acquired_on::VARCHAR, snapshot, osm_at, osm_gap_days "
            "FROM stg_osm__image_snapshots").fetchall()}
        times = [r[0] for r in con.execute("FROM stg_osm__snapshot_times").fetchall()]
    assert rows == {
        EARLY: ("per image", datetime(2021, 8, 31), 30),
        LATE: ("per image", datetime(2022, 8, 31), 30),
        # the history ends on 2022-12-01, before 2022-11-20 + 30 days: its last map, 11 days on
        AFTER: ("per image", datetime(2022, 12, 1), 11),
    }
    assert times == sorted(r[1] for r in rows.values())


def test_the_manifest_and_the_card_record_the_osm_time_per_image(world):
    dates, warehouse = world
    manifest = json.loads((warehouse.parent / "export" / "manifest.json").read_text())
    images = {i["acquired_on"]: i for i in manifest["osm_snapshots"]["images"]}
    assert manifest["osm_snapshots"]["offset_days"] == 30
    assert {d: (i["osm_snapshot_at"], i["osm_gap_days"], i["samples"])
            for d, i in images.items()} == {EARLY: ("2021-08-31T00:00:00Z", 30, 3),
                                            LATE: ("2022-08-31T00:00:00Z", 30, 3)}
    with Warehouse(warehouse, read_only=True) as wh:
        section = collect_stats(wh).sections["osm_snapshots"]
    rows = [dict(zip(section.columns, r, strict=True)) for r in section.rows]
    assert [(r["acquired_on"].isoformat(), r["osm_at"], r["osm_gap_days"], r["samples"])
            for r in rows] == [(EARLY, datetime(2021, 8, 31), 30, 3),
                               (LATE, datetime(2022, 8, 31), 30, 3),
                               (AFTER, datetime(2022, 12, 1), 11, 0)]
    assert section.part == "Sources and licences" and {r["snapshot"] for r in rows} == {
        "per image"}


def test_the_offset_setting_moves_the_osm_time(tmp_path: Path):
    pbf = make_history().write(tmp_path / "town.osh.pbf")
    write_images(tmp_path / "naip", {"A": EARLY, "B": LATE})
    warehouse = make_warehouse(tmp_path / "wh", pbf, tmp_path / "naip", export=False,
                               osm_date_offset_days=0)
    park = requests(warehouse)[(date_key(EARLY), 1, 0)]
    assert park["patch"]["osm_snapshot_at"] == "2021-08-01T00:00:00Z"
    assert park["patch"]["osm_gap_days"] == 0
    assert park["element"]["name"] == "Old Park"  # renamed on 2021-08-11, after the flight


def test_partitions_see_the_same_snapshots_as_the_single_build(tmp_path: Path):
    pbf = make_history().write(tmp_path / "town.osh.pbf")
    write_images(tmp_path / "naip", {"A": EARLY, "B": LATE, "C": AFTER})
    split = make_warehouse(tmp_path / "split", pbf, tmp_path / "naip", export=False,
                           partition_deg=0.01)
    shutil.copytree(split.parent, tmp_path / "single")  # the same inputs, rebuilt whole
    single = tmp_path / "single" / split.name
    cli(single, "build", "--single", "--force")
    with duckdb.connect(str(split), read_only=True) as con:
        keys = con.execute("SELECT count(DISTINCT partition_key) FROM int_patches_gridded"
                           ).fetchone()[0]
    assert keys == 3
    assert table_differences(single, split) == {}


def _built(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        build = con.execute("SELECT build_id FROM _meta.stage_runs ORDER BY run_id DESC LIMIT 1"
                            ).fetchone()[0]
        return {s for (s,) in con.execute(
            "SELECT DISTINCT stage FROM _meta.stage_runs WHERE build_id = ? AND status = 'built'",
            [build]).fetchall()}


def test_an_image_of_a_known_date_does_not_rebuild_the_osm_staging(tmp_path: Path):
    pbf = make_history().write(tmp_path / "town.osh.pbf")
    write_images(tmp_path / "naip", {"A": EARLY, "B": LATE})
    warehouse = make_warehouse(tmp_path / "wh", pbf, tmp_path / "naip", export=False)
    write_images(tmp_path / "naip", {"C": EARLY})  # a date the staging already has
    cli(warehouse, "ingest", "naip", "--source", "local", str(tmp_path / "naip"))
    cli(warehouse, "build")
    built = _built(warehouse)
    assert "stg_osm__image_snapshots" in built and "int_patches_gridded" in built
    assert not built & {"stg_osm__versions", "stg_osm__ways", "stg_osm__elements"}
    write_images(tmp_path / "naip", {"D": AFTER})  # a new date: the map of that date is made
    cli(warehouse, "ingest", "naip", "--source", "local", str(tmp_path / "naip"))
    cli(warehouse, "build")
    assert {"stg_osm__versions", "stg_osm__ways", "stg_osm__elements"} <= _built(warehouse)


def test_a_plain_extract_beside_a_history_never_changes_unless_the_history_holds_it(
        a_early_copy: Path, tmp_path: Path):
    warehouse = a_early_copy  # A early, B late, C after the history
    cli(warehouse, "ingest", "osm", str(write_meadow(tmp_path / "meadow.osm.pbf")))
    cli(warehouse, "build")
    got = requests(warehouse)
    meadow = got[(date_key(AFTER), 0, 0)]["element"]
    assert meadow["osm_id"] == 900 and meadow["tags"][0]["value"] == "meadow"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        timeless = con.execute(
            "SELECT count(*) FILTER (osm_from = '-infinity' AND osm_until = 'infinity'), "
            "count(*) FROM stg_osm__elements WHERE element_id = 9002").fetchone()
    assert timeless == (1, 1)
    # the road is the history's, as each date saw it, not the plain file's primary
    roads = {k[0]: {t["key"]: t["value"] for t in p["element"]["tags"]}["highway"]
             for k, p in got.items() if p["element"]["osm_id"] == 200}
    assert roads == {date_key(EARLY): "residential", date_key(LATE): "tertiary"}


RUN_FIELDS = {"caption_id", "run_id", "created_at", "latency_s"}  # of each caption run


def _export(folder: Path) -> tuple[dict[str, str], list[dict]]:
    """(tar shard -> sha256, metadata rows less what differs between caption runs)."""
    tars = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.tar")}
    rows = pq.read_table(folder / "train-000000.parquet").to_pylist()
    for row in rows:
        row.pop("image_fetched_at")
        row["captions"] = [{k: v for k, v in c.items() if k not in RUN_FIELDS}
                           for c in row["captions"]]
    return tars, rows


def test_a_plain_extract_gives_the_results_of_a_history_without_changes(tmp_path: Path):
    """The same map as a plain extract and as a history whose objects never change: every
    table holds the same rows (less the state columns), every payload the same bytes less
    the two OSM-time fields, the exported tar shards are byte-identical and their metadata
    the same (less what differs between two caption runs)."""
    still = make_history().at(MOVED)  # a map with every feature, one version each
    write_images(tmp_path / "naip", {"A": EARLY, "B": LATE})
    plain = make_warehouse(tmp_path / "plain", still.write_plain(tmp_path / "town.osm.pbf"),
                           tmp_path / "naip")
    history = make_warehouse(tmp_path / "history", still.write(tmp_path / "town.osh.pbf"),
                             tmp_path / "naip")
    con = duckdb.connect()
    con.execute(f"ATTACH '{plain}' AS p (READ_ONLY)")
    con.execute(f"ATTACH '{history}' AS h (READ_ONLY)")
    differ = {"stg_osm__image_snapshots", "stg_osm__snapshot_times", "stg_osm__versions",
              "caption_requests", "captions", "patch_images"}
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'p' "
        "AND schema_name = 'main' ORDER BY 1").fetchall()]
    assert "int_patch_elements_joined" in tables
    for table in tables:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'p' "
            "AND table_name = ? ORDER BY column_index", [table]).fetchall()]
        if table in differ:
            continue
        states = {"osm_from", "osm_until"} & set(columns)
        if states:  # plain: one state per element, -infinity .. infinity
            assert con.execute(f"SELECT count(*) FROM p.{table} WHERE osm_from <> '-infinity' "
                               "OR osm_until <> 'infinity'").fetchone()[0] == 0
        keep = ", ".join(f'"{c}"' for c in columns if c not in states)
        for a, b in (("p", "h"), ("h", "p")):
            extra = con.execute(f"SELECT count(*) FROM (SELECT {keep} FROM {a}.{table} "
                                f"EXCEPT ALL SELECT {keep} FROM {b}.{table})").fetchone()[0]
            assert extra == 0, (table, a)
    pairs = con.execute(
        "SELECT p.payload, h.payload, json_extract_string(h.payload, '$.patch.osm_snapshot_at'),"
        " json_extract(h.payload, '$.patch.osm_gap_days') FROM p.caption_requests p "
        "JOIN h.caption_requests h USING (request_id)").fetchall()
    assert len(pairs) == 8 and "osm_snapshot_at" not in pairs[0][0]
    for ours, theirs, at, gap in pairs:
        assert theirs.replace(f',"osm_snapshot_at":"{at}","osm_gap_days":{gap}', "") == ours
    (tars, rows), theirs = (_export(w.parent / "export") for w in (plain, history))
    assert len(tars) == 1 and len(rows) == 8 and (tars, rows) == theirs
    manifests = [json.loads((w.parent / "export" / "manifest.json").read_text())
                 for w in (plain, history)]
    assert "osm_snapshots" not in manifests[0] and "osm_snapshots" in manifests[1]
    for manifest in manifests:  # the inputs differ, and the sidecars' caption timings
        manifest.pop("osm_snapshots", None)
        manifest.pop("sources")
        for shard in manifest["shards"]:
            shard["files"] = [f for f in shard["files"] if f["name"].endswith(".tar")]
    assert manifests[0] == manifests[1]
