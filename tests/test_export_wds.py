"""Export to webdataset shards: RSTeller's layout, determinism, resume, bad input."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import duckdb
import pytest
from _wds_read import rsteller_samples
from click.testing import CliRunner
from PIL import Image

from rsteller_db.cli import main
from rsteller_db.export.synthetic import synthetic_warehouse, texture_jpegs

REPO = Path(__file__).resolve().parents[1]
PATCHES = 40
# 11, 22, 33 have no accepted caption; 3 (fetch failed), 4 (file gone), 5 (wrong size) skip
NOT_CAPTIONED = {11, 22, 33}
SKIPPED = {3: "image failed", 4: "image file missing", 5: "image is 100x100 px"}
EXPORTED = [p for p in range(1, PATCHES + 1) if p not in NOT_CAPTIONED and p not in SKIPPED]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "rsteller.duckdb"
    synthetic_warehouse(path, PATCHES, revisions=1)
    con = duckdb.connect(str(path))
    con.execute("UPDATE patch_images SET status = 'failed', reason = 'earth engine timeout' "
                "WHERE patch_id = 3")
    rows = dict(con.execute("SELECT patch_id, path FROM patch_images").fetchall())
    con.close()
    (path.parent / rows[4]).unlink()
    Image.new("RGB", (100, 100), "green").save(path.parent / rows[5], "JPEG")
    Image.new("RGB", (448, 448), "gray").save(path.parent / rows[6], "PNG")  # re-encoded
    return path


def export(warehouse: Path, out: Path, *args: str):
    result = CliRunner().invoke(main, ["--quiet", "--warehouse", str(warehouse), "export",
                                       "--out", str(out), "--shard-size", "10", *args])
    return result


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_cli(warehouse: Path, out: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rsteller_db", "-q", "--warehouse", str(warehouse), "export",
         "--out", str(out), "--shard-size", "10"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, **kwargs)


@pytest.fixture(scope="module")
def reference(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "export"
    result = export(warehouse, out)
    assert result.exit_code == 0, result.output
    return out


def test_rsteller_pipeline_reads_every_sample(reference):
    shards = sorted(str(p) for p in reference.glob("train-*.tar"))
    assert [Path(s).name for s in shards] == [f"train-00000{i}.tar" for i in range(4)]
    seen = 0
    for image, text in rsteller_samples(shards):
        assert image.size == (448, 448) and image.mode == "RGB"
        assert isinstance(text, str) and len(text.split()) >= 5
        seen += 1
    assert seen == len(EXPORTED)


def test_members_and_json_follow_rsteller_format(reference):
    with tarfile.open(reference / "train-000000.tar") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        doc = json.loads(tar.extractfile("7.json").read())
    keys = [p for p in EXPORTED if p <= 10]
    assert names == [f"{k}.{ext}" for k in keys for ext in ("jpg", "json")]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {
        (0, 0, 0, "rsteller", "rsteller")}
    assert doc == {
        "metadata": {"patch_id": 7, "image_name": "m_4107502_sw_18_060_20220915"},
        "annotations": [
            {"task": 2, "annotator": "mistralai/Mistral-Nemo-Instruct-2407",
             "text": "A residential road named Road 7 lies in the centre of the view, "
                     "taking up about a third of it."},
            {"task": 3, "annotator": "mistralai/Mistral-Nemo-Instruct-2407",
             "text": "Revision 1 of patch 7: the view centres on one named feature."},
        ],
    }
    assert list(doc["annotations"][0]) == ["task", "text", "annotator"]


def test_missing_images_are_skipped_and_listed(reference):
    stats = json.loads((reference / "train-000000_stats.json").read_text())
    reasons = {item["patch_id"]: item["reason"] for item in stats["skipped"]}
    assert sorted(reasons) == sorted(SKIPPED)
    for patch_id, start in SKIPPED.items():
        assert reasons[patch_id].startswith(start), reasons[patch_id]
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["samples"] == len(EXPORTED) and manifest["skipped"] == len(SKIPPED)
    with tarfile.open(reference / "train-000000.tar") as tar:
        png_patch = Image.open(tar.extractfile("6.jpg"))
        assert png_patch.format == "JPEG" and png_patch.size == (448, 448)


def test_sidecars_and_manifest(reference):
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT patch_id, image_name, acquired_on, geom_wkt, element_id, tags, captions "
        f"FROM read_parquet('{reference}/train-*.parquet') ORDER BY patch_id").fetchall()
    assert [r[0] for r in rows] == EXPORTED
    patch7 = next(r for r in rows if r[0] == 7)
    assert str(patch7[2]) == "2022-09-15" and patch7[3].startswith("POLYGON")
    assert patch7[4] == 72 and {"key": "name", "value": "Road 7"} in patch7[5]
    assert [c["caption_id"] for c in patch7[6]] == ["7-t2-a1", "7-t3-1-a1"]
    assert patch7[6][0]["prompt_hash"] == "abc123" and patch7[6][0]["tokens_out"] == 40
    manifest = json.loads((reference / "manifest.json").read_text())
    assert [s["name"] for s in manifest["shards"]] == [f"train-00000{i}" for i in range(4)]
    assert {s["kind"] for s in manifest["sources"]} == {"osm", "naip"}
    assert "ODbL" in manifest["attribution"]["openstreetmap"]["license"]
    assert manifest["attribution"]["naip"]["license"] == "public domain"
    assert manifest["settings"]["patch_size_px"] == 448
    areas = sum(1 for p in EXPORTED if p % 2 == 0)  # even patches describe an area (Task 1)
    assert manifest["captions_by_task"] == {
        "1": areas, "2": len(EXPORTED) - areas, "3": len(EXPORTED)}


def test_same_warehouse_gives_identical_bytes(warehouse, reference, tmp_path):
    assert export(warehouse, tmp_path / "again").exit_code == 0
    assert files_of(tmp_path / "again") == files_of(reference)


def test_worker_processes_write_the_same_bytes(warehouse, reference, tmp_path):
    result = export(warehouse, tmp_path / "workers", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "4 written, 0 kept; 3 skipped" in result.output
    assert files_of(tmp_path / "workers") == files_of(reference)


def test_sigkill_mid_shard_then_rerun_is_byte_identical(warehouse, reference, tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal
        from contextlib import contextmanager
        from rsteller_db.export import ExportOptions, export_dataset
        from rsteller_db.progress import Reporter
        from rsteller_db.warehouse import Warehouse

        class Handle:
            done = 0
            def advance(self, n=1):
                Handle.done += n
                if Handle.done >= 25:  # shards 0 and 1 finished, shard 2 half written
                    os.kill(os.getpid(), signal.SIGKILL)
            def note(self, text):
                pass

        class KillingReporter(Reporter):
            @contextmanager
            def bar(self, description, total=None):
                yield Handle()

        with Warehouse({str(warehouse)!r}, read_only=True) as wh:
            export_dataset(wh, {str(out)!r}, ExportOptions(shard_size=10), KillingReporter())
    """))
    killed = subprocess.run([sys.executable, str(script)], capture_output=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in out.iterdir())
    assert "train-000002.tar.tmp" in left and "train-000002.tar" not in left
    assert "train-000000_stats.json" in left and "manifest.json" not in left
    # shard 1 is committed (synced, renamed) on a background thread while shard 2 is written:
    # the kill may find it done or still in hand; either way only finished shards are kept
    finished = [name for name in left if name.endswith("_stats.json")]
    assert finished in (["train-000000_stats.json"],
                        ["train-000000_stats.json", "train-000001_stats.json"])
    kept = (out / "train-000000.tar").stat().st_mtime_ns

    rerun = run_cli(warehouse, out)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{4 - len(finished)} written, {len(finished)} kept" in rerun.stdout
    assert (out / "train-000000.tar").stat().st_mtime_ns == kept
    assert files_of(out) == files_of(reference)


def test_write_error_mid_shard_leaves_no_truncated_shard(warehouse, reference, tmp_path):
    import resource

    out = tmp_path / "full"

    def small_disk():  # files may not grow past 300 kB: the first shard fails mid-way
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    failed = run_cli(warehouse, out, preexec_fn=small_disk)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: writing shard train-000000 in ")
    assert "File too large" in failed.stderr and "re-run the same command" in failed.stderr
    assert sorted(p.name for p in out.iterdir()) == [".rsteller-export.json"]

    rerun = run_cli(warehouse, out)
    assert rerun.returncode == 0, rerun.stderr
    assert files_of(out) == files_of(reference)


def test_folder_with_foreign_files_is_refused_unless_overwrite(warehouse, reference, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused = export(warehouse, out)
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {out} already holds files that rsteller-db export did not write (notes.txt): "
        "pass --overwrite to replace them, or choose another --out\n")
    replaced = export(warehouse, out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert files_of(out) == files_of(reference)

    (out / "extra.bin").write_bytes(b"x")
    again = export(warehouse, out)
    assert again.exit_code == 1 and "extra.bin" in again.output


def test_changed_caption_rewrites_only_its_shard(warehouse, reference, tmp_path):
    copy = tmp_path / "wh" / "rsteller.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(warehouse.read_bytes())
    os.symlink(warehouse.parent / "images", copy.parent / "images")
    out = tmp_path / "out"
    assert export(copy, out).exit_code == 0
    con = duckdb.connect(str(copy))
    text = 'A new caption of patch twenty-five: the "Café" by the river \\ bank,\nlong enough.'
    con.execute("UPDATE captions SET text = ? WHERE caption_id = '25-t2-a1'", [text])
    con.close()
    result = export(copy, out)
    assert "1 written, 3 kept" in result.output
    with tarfile.open(out / "train-000002.tar") as tar:
        raw = tar.extractfile("25.json").read()
    # quotes, backslash and newline escaped, other characters as UTF-8
    assert json.loads(raw)["annotations"][0]["text"] == text
    assert "Café".encode() in raw and b'\\"Caf' in raw and b"\\n" in raw
    assert files_of(out)["train-000000.tar"] == files_of(reference)["train-000000.tar"]


def test_jpeg_quality_reencodes(warehouse, tmp_path):
    assert export(warehouse, tmp_path / "q50", "--jpeg-quality", "50").exit_code == 0
    original = texture_jpegs(8)
    with tarfile.open(tmp_path / "q50" / "train-000000.tar") as tar:
        data = tar.extractfile("1.jpg").read()
    assert data not in original and len(data) < min(len(b) for b in original)
    assert Image.open(io.BytesIO(data)).size == (448, 448)


def test_export_without_the_mart_names_the_fix(tmp_path):
    from rsteller_db.warehouse import Warehouse

    Warehouse(tmp_path / "empty.duckdb").close()
    result = export(tmp_path / "empty.duckdb", tmp_path / "out")
    assert result.exit_code == 1
    assert "has no export_samples relation: run `rsteller-db build`" in result.output
    assert not (tmp_path / "out").exists()


def test_out_is_required():
    result = CliRunner().invoke(main, ["export"])
    assert result.exit_code == 2 and "--out DIR is required" in result.output


@pytest.mark.slow
def test_ray_tasks_write_the_same_bytes(warehouse, reference, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = export(warehouse, tmp_path / "ray", "--executor", "ray")
    finally:
        ray.shutdown()
    assert result.exit_code == 0, result.output
    assert "4 written, 0 kept; 3 skipped" in result.output
    assert files_of(tmp_path / "ray") == files_of(reference)


def test_a_partition_exports_its_own_samples(warehouse, tmp_path):
    copy = tmp_path / "wh" / "rsteller.duckdb"
    copy.parent.mkdir()
    shutil.copytree(warehouse.parent, copy.parent, dirs_exist_ok=True)
    con = duckdb.connect(str(copy))
    con.execute("ALTER TABLE int_patches_gridded ADD COLUMN partition_key VARCHAR")
    con.execute("UPDATE int_patches_gridded SET partition_key = "
                "if(patch_id % 2 = 0, 'n41w075', 'n41w076')")
    con.close()
    result = export(copy, tmp_path / "even", "--partition", "n41w075")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "even" / "manifest.json").read_text())
    keys = set()
    for shard in (tmp_path / "even").glob("*.tar"):
        with tarfile.open(shard) as tar:
            keys |= {int(m.name.split(".")[0]) for m in tar.getmembers()}
    assert keys == {p for p in EXPORTED if p % 2 == 0}
    assert manifest["options"]["partitions"] == ["n41w075"]
    areas = sum(1 for p in EXPORTED if p % 2 == 0)
    assert manifest["captions_by_task"]["1"] == areas
    assert "2" not in manifest["captions_by_task"]
