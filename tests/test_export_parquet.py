"""`rsteller-db export --format parquet`: the metadata table, readable by DuckDB and `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rsteller_db.cli import main
from rsteller_db.export.synthetic import synthetic_warehouse

PATCHES = 30
EXPORTED = [p for p in range(1, PATCHES + 1) if p % 11]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parquet")
    synthetic_warehouse(root / "rsteller.duckdb", PATCHES, revisions=2)
    out = root / "meta"
    result = CliRunner().invoke(main, ["-q", "-w", str(root / "rsteller.duckdb"), "export",
                                       "--format", "parquet", "--out", str(out),
                                       "--shard-size", "16"])
    assert result.exit_code == 0, result.output
    return out


def test_only_parquet_shards_and_sidecars(exported):
    assert sorted(p.name for p in exported.iterdir()) == [
        ".rsteller-export.json", "manifest.json",
        "train-000000.parquet", "train-000000_stats.json",
        "train-000001.parquet", "train-000001_stats.json"]
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["format"] == "parquet" and manifest["samples"] == len(EXPORTED)


def test_loads_with_duckdb(exported):
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT patch_id, image_name, len(captions), captions[1].task, captions[3].request_id, "
        f"map_from_entries(tags)['name'] FROM read_parquet('{exported}/*.parquet') "
        "ORDER BY patch_id").fetchall()
    assert [r[0] for r in rows] == EXPORTED
    assert rows[0] == (1, "m_4107501_nw_18_060_20221108", 3, 2, "1-t3-2", "Road 1")


def test_loads_with_hugging_face_datasets(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    table = datasets.load_dataset("parquet", data_files=str(exported / "*.parquet"),
                                  split="train", cache_dir=str(tmp_path / "cache"))
    assert table.num_rows == len(EXPORTED)
    first = table[0]
    assert first["patch_id"] == 1 and first["image_path"].endswith("/1.jpg")
    assert [c["task"] for c in first["captions"]] == [2, 3, 3]
    assert {"key": "highway", "value": "residential"} in first["tags"]
    assert first["geom_wkt"].startswith("POLYGON")


def test_verify_accepts_parquet_export(exported):
    result = CliRunner().invoke(main, ["-q", "export", "verify", str(exported)])
    assert result.exit_code == 0, result.output
