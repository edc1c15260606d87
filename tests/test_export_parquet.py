"""`rsteller-db export --format parquet`: the metadata table, readable by DuckDB and `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rsteller_db.cli import main


@pytest.fixture(scope="module")
def expected(sample_warehouse) -> list[tuple]:
    """(patch_id, image_name, caption count, first task, request of the revision, element
    name) of every sample, read from the tables the marts are built on."""
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    rows = con.execute("""
        SELECT c.patch_id, g.image_name, count(*), min(c.task),
               max(c.request_id) FILTER (c.task = 3), any_value(e.tags['name'])
        FROM captions c JOIN int_patches_gridded g USING (patch_id)
        JOIN caption_requests r ON r.patch_id = c.patch_id
        JOIN stg_osm__elements e ON e.element_id = r.element_id
        WHERE c.status = 'accepted' GROUP BY ALL ORDER BY c.patch_id""").fetchall()
    con.close()
    return rows


@pytest.fixture(scope="module")
def exported(sample_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parquet") / "meta"
    result = CliRunner().invoke(main, ["-q", "-w", str(sample_warehouse), "export",
                                       "--format", "parquet", "--out", str(out),
                                       "--shard-size", "16"])
    assert result.exit_code == 0, result.output
    return out


def test_only_parquet_shards_and_sidecars(exported, expected):
    assert sorted(p.name for p in exported.iterdir()) == [
        ".rsteller-export.json", "manifest.json",
        "train-000000.parquet", "train-000000_stats.json",
        "train-000001.parquet", "train-000001_stats.json"]
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["format"] == "parquet" and manifest["samples"] == len(expected) > 16


def test_loads_with_duckdb(exported, expected):
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT patch_id, image_name, len(captions), captions[1].task, captions[2].request_id, "
        f"map_from_entries(tags)['name'] FROM read_parquet('{exported}/*.parquet') "
        "ORDER BY patch_id").fetchall()
    assert rows == expected
    assert any(r[5] for r in rows)  # some elements have a name


def test_loads_with_hugging_face_datasets(exported, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    table = datasets.load_dataset("parquet", data_files=str(exported / "*.parquet"),
                                  split="train", cache_dir=str(tmp_path / "cache"))
    assert table.num_rows == len(expected)
    first = table[0]
    patch_id, _, _, task, _, _ = expected[0]
    assert first["patch_id"] == patch_id and first["image_path"].endswith(f"/{patch_id}.jpg")
    assert [c["task"] for c in first["captions"]] == [task, 3]
    assert first["tags"] and all(set(t) == {"key", "value"} for t in first["tags"])
    assert first["geom_wkt"].startswith("POLYGON")


def test_verify_accepts_parquet_export(exported):
    result = CliRunner().invoke(main, ["-q", "export", "verify", str(exported)])
    assert result.exit_code == 0, result.output
