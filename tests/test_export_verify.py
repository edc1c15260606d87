"""`rsteller-db export verify`: a sound export passes; damage and mismatches are named."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsteller_db.cli import main
from rsteller_db.export import document_problems


@pytest.fixture(scope="module")
def exported(sample_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "export"
    result = CliRunner().invoke(main, ["-q", "-w", str(sample_warehouse), "export",
                                       "--out", str(out), "--shard-size", "8"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def copy(exported, tmp_path) -> Path:
    return Path(shutil.copytree(exported, tmp_path / "copy"))


def verify(folder: Path):
    return CliRunner().invoke(main, ["-q", "export", "verify", str(folder)])


def rewrite_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def rehash(folder: Path, manifest: dict) -> None:
    for shard in manifest["shards"]:
        for item in shard["files"]:
            data = (folder / item["name"]).read_bytes()
            item["bytes"], item["sha256"] = len(data), hashlib.sha256(data).hexdigest()


def test_sound_export_passes(exported):
    result = verify(exported)
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: 19 sample(s) in 3 shard(s) match {exported}/manifest.json\n"


def test_one_flipped_byte_fails(copy):
    shard = copy / "train-000001.tar"
    data = bytearray(shard.read_bytes())
    data[5000] ^= 0x01  # inside the first JPEG's bytes
    shard.write_bytes(bytes(data))
    result = verify(copy)
    assert result.exit_code == 1
    assert "train-000001.tar: sha256 differs from the manifest\n" in result.output
    assert result.output.endswith(
        f"Error: {copy} failed verification with 1 problem(s): re-run `rsteller-db export` "
        "with the same options (add --overwrite to rewrite every shard)\n")


def test_manifest_mismatch_fails(copy):
    rewrite_manifest(copy, lambda m: m["shards"][0].update(samples=9) or m.update(samples=23))
    result = verify(copy)
    assert result.exit_code == 1
    assert "train-000000: 8 samples, the manifest says 9" in result.output
    assert "train-000000.parquet: 8 rows, the manifest says 9" in result.output


def test_missing_shard_fails(copy):
    (copy / "train-000002.tar").unlink()
    result = verify(copy)
    assert result.exit_code == 1
    assert "train-000002.tar: listed in the manifest but missing" in result.output


def test_duplicate_patch_fails(copy):
    shutil.copy(copy / "train-000000.tar", copy / "train-000001.tar")

    def change(manifest):
        rehash(copy, manifest)
        manifest["shards"][1]["samples"] = manifest["shards"][0]["samples"]
    rewrite_manifest(copy, change)
    result = verify(copy)
    assert result.exit_code == 1
    with tarfile.open(copy / "train-000000.tar") as tar:
        first = tar.getmembers()[0].name.split(".")[0]
    assert f"train-000001.tar: patch {first} appears twice (also in train-000000.tar)" in \
        result.output


def test_truncated_tar_fails(copy):
    shard = copy / "train-000000.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    rewrite_manifest(copy, lambda m: rehash(copy, m))
    result = verify(copy)
    assert result.exit_code == 1
    assert "train-000000.tar: does not open as a tar file" in result.output


def test_folder_without_manifest_names_the_fix(tmp_path):
    result = verify(tmp_path)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no manifest.json in {tmp_path}: is it an export folder? "
        "Run `rsteller-db export --out DIR` (again) to finish it\n")


GOOD = {"metadata": {"patch_id": 726, "image_name": "m_4107501_ne_18_060_20221108"},
        "annotations": [{"task": 1, "text": "A field.", "annotator": "m"},
                        {"task": 3, "text": "One field.", "annotator": "m"}]}


@pytest.mark.parametrize("document, problem", [
    ({"metadata": GOOD["metadata"]}, "exactly 'metadata' and 'annotations'"),
    ({**GOOD, "metadata": {"patch_id": "726", "image_name": "x"}}, "is not the key 726"),
    ({**GOOD, "metadata": {"patch_id": 727, "image_name": "x"}}, "is not the key 726"),
    ({**GOOD, "annotations": []}, "non-empty list"),
    ({**GOOD, "annotations": [{"task": 3, "text": "x", "annotator": "m"}]}, "start with the one"),
    ({**GOOD, "annotations": [{"task": 1, "text": "x"}]}, "exactly 'task', 'text', 'annotator'"),
    ({**GOOD, "annotations": [{"task": 4, "text": "x", "annotator": "m"}]}, "task must be 1-3"),
])
def test_document_schema(document, problem):
    assert document_problems("726", GOOD) == []
    found = document_problems("726", document)
    assert any(problem in p for p in found), found
