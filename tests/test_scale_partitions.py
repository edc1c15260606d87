"""Partitioned, incremental and Ray builds equal the single build, table by table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scale_world import (
    copy_images,
    ingest,
    make_region,
    open_warehouse,
    settings,
    table_differences,
)

from rsteller_db import stages

OSM_STAGES = {"stg_osm__ways", "stg_osm__multipolygons", "stg_osm__elements",
              "stg_osm__boundaries"}


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> tuple[Path, Path]:
    return make_region(tmp_path_factory.mktemp("region"))


def built(tmp: Path, name: str, pbf: Path, images: Path, **build) -> Path:
    path = tmp / name / "rsteller.duckdb"
    with open_warehouse(path) as wh:
        ingest(wh, pbf, images)
        stages.build(wh, **build)
    return path


@pytest.fixture(scope="module")
def single(region, tmp_path_factory) -> Path:
    """The region built whole (``--single``), once; read it only."""
    return built(tmp_path_factory.mktemp("single"), "single", *region, single=True)


@pytest.fixture(scope="module")
def split(region, tmp_path_factory) -> Path:
    """The region built partition by partition, once; read it only."""
    return built(tmp_path_factory.mktemp("split"), "split", *region)


def partition_counts(path: Path) -> dict[str, int]:
    with open_warehouse(path) as wh:
        return dict(wh.con.execute(
            "SELECT partition_key, count(*) FROM int_patches_gridded GROUP BY ALL").fetchall())


def test_partitioned_build_equals_the_single_build(single, split):
    counts = partition_counts(split)
    assert len(counts) == 6 and all(n > 0 for n in counts.values())
    with open_warehouse(split) as wh:
        halo = wh.con.execute("SELECT count(*) FROM int_image_partitions_assigned "
                              "WHERE NOT is_own").fetchone()[0]
        pairs = wh.con.execute("SELECT count(*) FROM int_patch_elements_joined").fetchone()[0]
        # elements crossing partition edges: paired with patches on both sides, once each
        crossing = wh.con.execute("""
            SELECT count(*) FROM (
                SELECT j.element_id FROM int_patch_elements_joined j
                JOIN int_patches_gridded p USING (patch_id)
                GROUP BY 1 HAVING count(DISTINCT p.partition_key) > 1)""").fetchone()[0]
    assert halo > 0 and pairs > 1_000 and crossing > 0
    assert table_differences(single, split) == {}


def test_partitioned_sample_equals_the_single_sample(sample_files, tmp_path: Path):
    files = sample_files  # the session's sample town (conftest.py)
    single = built(tmp_path, "single", files.pbf, files.raster.parent, single=True)
    split = built(tmp_path, "split", files.pbf, files.raster.parent)
    assert len(partition_counts(split)) == 1
    assert table_differences(single, split) == {}


def test_one_more_image_rebuilds_its_partitions_only(region, single, tmp_path: Path):
    pbf, images = region
    names = sorted(p.name for p in images.glob("*.tif"))
    late = names[-1]  # the last column's top image: a corner of the region
    some = copy_images(images, tmp_path / "some", names[:-1])
    path = tmp_path / "incremental" / "rsteller.duckdb"
    with open_warehouse(path) as wh:
        ingest(wh, pbf, some)
        first = stages.build(wh)
        assert {r.stage: r.partitions for r in first.results}["caption_requests"] == 5
        copy_images(images, some, [late])
        ingest(wh, pbf, some)
        again = stages.build(wh)
    status = {r.stage: r for r in again.results}
    assert all(status[s].status == "skipped" for s in OSM_STAGES)
    assert status["stg_naip__images"].status == "built"
    rebuilt = status["int_patches_gridded"]
    # the new image's partition and the neighbours whose halo it joins; not the far ones
    assert rebuilt.partitions == 6 and 1 < rebuilt.partitions_built < 6
    assert sorted(p.name for p in some.glob("*.tif")) == names  # now the files `single` read
    # the same files as `single` read, from another folder: only the images' uri may differ
    assert table_differences(single, path, unread={"stg_naip__images": ("uri",)}) == {}
    with open_warehouse(path) as wh:
        assert stages.build(wh).built == []


def test_a_removed_partition_leaves_no_rows(region, split, tmp_path: Path):
    pbf, images = region
    names = sorted(p.name for p in images.glob("*.tif"))
    path = tmp_path / "shrink" / "rsteller.duckdb"
    path.parent.mkdir()
    shutil.copy(split, path)  # the region ingested and built partition by partition
    with open_warehouse(path) as wh:
        wh.con.execute("DELETE FROM raw.naip_images WHERE image_name = ?", [names[0][:-4]])
        wh.con.execute("INSERT INTO _meta.sources (kind, name, uri, sha256) "
                       "VALUES ('naip', 'removal', 'test', 'x')")
        stages.build(wh)
        keys = wh.con.execute("SELECT DISTINCT partition_key FROM _meta.partition_state "
                              "ORDER BY 1").fetchall()
    assert len(keys) == 5
    with open_warehouse(tmp_path / "scratch" / "rsteller.duckdb") as wh:
        ingest(wh, pbf, images)
        wh.con.execute("DELETE FROM raw.naip_images WHERE image_name = ?", [names[0][:-4]])
        stages.build(wh, single=True)
    scratch = tmp_path / "scratch" / "rsteller.duckdb"
    assert table_differences(scratch, path) == {}


@pytest.mark.slow
def test_ray_build_equals_the_single_build(region, single, tmp_path: Path, local_ray):
    pbf, images = region
    fanned = built(tmp_path, "ray", pbf, images, executor="ray")
    assert len(partition_counts(fanned)) == 6
    assert table_differences(single, fanned) == {}
    assert not list((fanned.parent / "partitions").glob("*.duckdb"))


def test_ways_built_in_slices_equal_one_piece(region, tmp_path: Path, monkeypatch):
    from rsteller_db.stages import runner

    pbf, images = region
    whole = built(tmp_path, "whole", pbf, images, single=True, stop="stg_osm__ways")
    monkeypatch.setattr(runner, "SLICE_BYTES_PER_ROW", 40_000)
    path = tmp_path / "sliced" / "rsteller.duckdb"
    with open_warehouse(path, memory_limit="1GB") as wh:
        ingest(wh, pbf, images)
        stages.build(wh, single=True, stop="stg_osm__ways")
        message = wh.con.execute("SELECT message FROM _meta.stage_runs "
                                 "WHERE stage = 'stg_osm__ways'").fetchone()[0]
    assert message == "5 slices"
    assert table_differences(whole, path) == {}


def test_images_fetch_takes_one_partition(split, tmp_path: Path):
    from rsteller_db.imagery import fetch_images

    shutil.copytree(split.parent, tmp_path / "fetch")
    path = tmp_path / "fetch" / split.name
    with open_warehouse(path) as wh:
        key = wh.con.execute("SELECT min(partition_key) FROM int_patches_gridded").fetchone()[0]
        wanted = {r[0] for r in wh.con.execute(
            "SELECT patch_id FROM caption_requests JOIN int_patches_gridded USING (patch_id) "
            "WHERE partition_key = ?", [key]).fetchall()}
    summary = fetch_images(path, settings=settings(), partitions=(key,))
    assert summary.targets == len(wanted) > 0 and summary.failed == 0
    with open_warehouse(path) as wh:
        got = {r[0] for r in wh.con.execute("SELECT patch_id FROM patch_images").fetchall()}
    assert got == wanted
