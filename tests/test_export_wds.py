"""Export to webdataset shards: RSTeller's layout, determinism, resume, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from _wds_read import rsteller_samples
from click.testing import CliRunner
from PIL import Image
from sample_world import copy_warehouse

from rsteller_db.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARD = 4  # rows per shard: the sample's 19 samples make 5 shards
SHARDS = [f"train-00000{i}" for i in range(5)]


@dataclass(frozen=True)
class Plan:
    """The copy of the sample warehouse the export tests share: in patch order, the 3rd
    sample's fetch failed, the 4th's file is gone, the 5th is 100 x 100 px (all three skip),
    the 6th is a PNG (re-encoded); the others are exported as they are."""

    samples: list[int]  # dataset_samples' patch ids, in export order
    skipped: dict[int, str]  # patch_id -> how the reason starts
    png: int

    @property
    def exported(self) -> list[int]:
        return [p for p in self.samples if p not in self.skipped]


@pytest.fixture(scope="module")
def plan_and_warehouse(sample_warehouse, tmp_path_factory) -> tuple[Plan, Path]:
    path = copy_warehouse(sample_warehouse, tmp_path_factory.mktemp("wh"))
    con = duckdb.connect(str(path))
    samples = [p for (p,) in con.execute(
        "SELECT patch_id FROM dataset_samples ORDER BY patch_id").fetchall()]
    failed, gone, small, png = samples[2:6]
    con.execute("UPDATE patch_images SET status = 'failed', reason = 'earth engine timeout' "
                "WHERE patch_id = ?", [failed])
    rows = dict(con.execute("SELECT patch_id, path FROM patch_images").fetchall())
    con.close()
    (path.parent / rows[gone]).unlink()
    Image.new("RGB", (100, 100), "green").save(path.parent / rows[small], "JPEG")
    Image.new("RGB", (448, 448), "gray").save(path.parent / rows[png], "PNG")  # re-encoded
    skipped = {failed: "image failed", gone: "image file missing", small: "image is 100x100 px"}
    return Plan(samples, skipped, png), path


@pytest.fixture(scope="module")
def plan(plan_and_warehouse) -> Plan:
    return plan_and_warehouse[0]


@pytest.fixture(scope="module")
def warehouse(plan_and_warehouse) -> Path:
    return plan_and_warehouse[1]


def accepted(warehouse: Path, patch_id: int) -> list[tuple]:
    """(caption_id, task, text, annotator, prompt_hash) of a patch's exported captions, read
    from `captions` directly: its accepted Task 1/2 caption, then its accepted revisions."""
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("""
        SELECT caption_id, task, text, annotator, prompt_hash FROM captions
        WHERE patch_id = ? AND status = 'accepted' ORDER BY task = 3, request_id, caption_id
        """, [patch_id]).fetchall()
    con.close()
    return rows


def export(warehouse: Path, out: Path, *args: str):
    result = CliRunner().invoke(main, ["--quiet", "--warehouse", str(warehouse), "export",
                                       "--out", str(out), "--shard-size", str(SHARD), *args])
    return result


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_cli(warehouse: Path, out: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rsteller_db", "-q", "--warehouse", str(warehouse), "export",
         "--out", str(out), "--shard-size", str(SHARD)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, **kwargs)


@pytest.fixture(scope="module")
def reference(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "export"
    result = export(warehouse, out)
    assert result.exit_code == 0, result.output
    return out


def test_rsteller_pipeline_reads_every_sample(reference, plan):
    shards = sorted(str(p) for p in reference.glob("train-*.tar"))
    assert [Path(s).stem for s in shards] == SHARDS
    seen = 0
    for image, text in rsteller_samples(shards):
        assert image.size == (448, 448) and image.mode == "RGB"
        assert isinstance(text, str) and len(text.split()) >= 5
        seen += 1
    assert seen == len(plan.exported)


def test_members_and_json_follow_rsteller_format(reference, plan, warehouse):
    with tarfile.open(reference / "train-000000.tar") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        first = plan.exported[0]
        doc = json.loads(tar.extractfile(f"{first}.json").read())
    keys = [p for p in plan.samples[:SHARD] if p not in plan.skipped]
    assert names == [f"{k}.{ext}" for k in keys for ext in ("jpg", "json")]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {
        (0, 0, 0, "rsteller", "rsteller")}
    con = duckdb.connect(str(warehouse), read_only=True)
    (image_name,) = con.execute("SELECT image_name FROM int_patches_gridded WHERE patch_id = ?",
                                [first]).fetchone()
    con.close()
    assert doc == {
        "metadata": {"patch_id": first, "image_name": image_name},
        "annotations": [{"task": task, "text": text, "annotator": annotator}
                        for _, task, text, annotator, _ in accepted(warehouse, first)],
    }
    assert [a["task"] for a in doc["annotations"]][1:] == [3]
    assert list(doc["annotations"][0]) == ["task", "text", "annotator"]


def test_missing_images_are_skipped_and_listed(reference, plan):
    reasons = {}
    for stats in reference.glob("*_stats.json"):
        reasons |= {i["patch_id"]: i["reason"] for i in json.loads(stats.read_text())["skipped"]}
    assert sorted(reasons) == sorted(plan.skipped)
    for patch_id, start in plan.skipped.items():
        assert reasons[patch_id].startswith(start), reasons[patch_id]
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["samples"] == len(plan.exported)
    assert manifest["skipped"] == len(plan.skipped)
    with tarfile.open(reference / "train-000001.tar") as tar:
        png_patch = Image.open(tar.extractfile(f"{plan.png}.jpg"))
        assert png_patch.format == "JPEG" and png_patch.size == (448, 448)


def test_sidecars_and_manifest(reference, plan, warehouse):
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT patch_id, image_name, acquired_on, geom_wkt, element_id, tags, captions "
        f"FROM read_parquet('{reference}/train-*.parquet') ORDER BY patch_id").fetchall()
    assert [r[0] for r in rows] == plan.exported
    one = rows[0]
    wh = duckdb.connect(str(warehouse), read_only=True)
    element_id, tags = wh.execute(
        "SELECT r.element_id, e.tags FROM caption_requests r JOIN stg_osm__elements e "
        "USING (element_id) WHERE r.patch_id = ?", [one[0]]).fetchone()
    by_task = dict(wh.execute(f"""
        SELECT task::VARCHAR, count(*) FROM captions
        WHERE status = 'accepted' AND list_contains({plan.exported}, patch_id)
        GROUP BY task""").fetchall())
    wh.close()
    assert str(one[2]) == "2022-08-15" and one[3].startswith("POLYGON")
    assert one[4] == element_id and sorted(map(tuple, (t.values() for t in one[5]))) == sorted(
        tags.items())
    captions = accepted(warehouse, one[0])
    assert [c["caption_id"] for c in one[6]] == [c[0] for c in captions]
    assert one[6][0]["prompt_hash"] == captions[0][4]
    manifest = json.loads((reference / "manifest.json").read_text())
    assert [s["name"] for s in manifest["shards"]] == SHARDS
    assert {s["kind"] for s in manifest["sources"]} == {"osm", "naip"}
    assert "ODbL" in manifest["attribution"]["openstreetmap"]["license"]
    assert manifest["attribution"]["naip"]["license"] == "public domain"
    assert manifest["settings"]["patch_size_px"] == 448
    assert manifest["captions_by_task"] == by_task
    assert by_task["3"] == len(plan.exported) == by_task["1"] + by_task["2"]


def test_same_warehouse_gives_identical_bytes(warehouse, reference, tmp_path):
    assert export(warehouse, tmp_path / "again").exit_code == 0
    assert files_of(tmp_path / "again") == files_of(reference)


def test_worker_processes_write_the_same_bytes(warehouse, reference, tmp_path):
    result = export(warehouse, tmp_path / "workers", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert f"{len(SHARDS)} written, 0 kept; 3 skipped" in result.output
    assert files_of(tmp_path / "workers") == files_of(reference)


def test_helper_processes_write_shards_this_process_commits(warehouse, reference, tmp_path,
                                                            monkeypatch):
    from rsteller_db.export import ExportHelpers, ExportOptions, export_dataset
    from rsteller_db.export.helpers import QUEUED
    from rsteller_db.warehouse import Warehouse

    # the exporter takes back the shards no helper has started when it runs out of its own:
    # with 4-sample shards it would take them all before the helpers are up, so not here
    monkeypatch.setattr(ExportHelpers, "take_back", lambda self: None)
    out = tmp_path / "helpers"
    with Warehouse(warehouse, read_only=True) as wh:
        result = export_dataset(wh, out, ExportOptions(shard_size=SHARD, workers=3))
    # the first shards go to the two helpers (two each: one written, one waiting) before this
    # process writes any itself; the helpers write and hash them, this process commits them
    assert result.written == len(SHARDS) and result.by_helpers >= 2 * QUEUED
    assert not list(out.glob("*.tmp"))
    assert files_of(out) == files_of(reference)


def test_shards_no_helper_started_are_taken_back(warehouse, plan, reference, tmp_path):
    """A helper blocked in shard 0 (its first image is a FIFO nobody writes yet) holds shard 1
    too; the exporter writes shards 2-4, then takes shard 1 back and writes it. The FIFO is
    fed once shards 1-4 are done (or after a minute, when shard 1 never comes)."""
    import threading
    import time

    from rsteller_db.export import ExportOptions, export_dataset
    from rsteller_db.warehouse import Warehouse

    copy = copy_warehouse(warehouse, tmp_path / "wh")
    first = plan.samples[0]
    con = duckdb.connect(str(copy), read_only=True)
    (image,) = con.execute("SELECT path FROM patch_images WHERE patch_id = ?", [first]).fetchone()
    con.close()
    image = copy.parent / image
    jpeg = image.read_bytes()
    image.unlink()
    os.mkfifo(image)
    out = tmp_path / "taken"

    def feed():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                (out / f"{stem}_stats.json").exists() for stem in SHARDS[1:]):
            time.sleep(0.05)
        while True:  # the reader (a helper or this process) opens the FIFO when it gets there
            try:
                fd = os.open(image, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            break
        os.set_blocking(fd, True)
        os.write(fd, jpeg)
        os.close(fd)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    with Warehouse(copy, read_only=True) as wh:
        result = export_dataset(wh, out, ExportOptions(shard_size=SHARD, workers=2))
    feeder.join(5)
    # the helper wrote shard 0 (or, had it not been up yet, none); shard 1 was not left to it
    assert result.by_helpers <= 1
    assert not list(out.glob("*.tmp"))
    assert files_of(out) == files_of(reference)


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
                if Handle.done >= 2 * {SHARD} + 2:  # shards 0 and 1 done, shard 2 half written
                    os.kill(os.getpid(), signal.SIGKILL)
            def note(self, text):
                pass

        class KillingReporter(Reporter):
            @contextmanager
            def bar(self, description, total=None):
                yield Handle()

        with Warehouse({str(warehouse)!r}, read_only=True) as wh:
            export_dataset(wh, {str(out)!r}, ExportOptions(shard_size={SHARD}),
                           KillingReporter())
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
    assert f"{len(SHARDS) - len(finished)} written, {len(finished)} kept" in rerun.stdout
    assert (out / "train-000000.tar").stat().st_mtime_ns == kept
    assert files_of(out) == files_of(reference)


def test_write_error_mid_shard_leaves_no_truncated_shard(warehouse, reference, tmp_path):
    import resource

    out = tmp_path / "full"

    def small_disk():  # files may not grow past 50 kB: the first shard fails mid-way
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

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


def test_changed_caption_rewrites_only_its_shard(warehouse, plan, reference, tmp_path):
    copy = copy_warehouse(warehouse, tmp_path)
    out = tmp_path / "out"
    assert export(copy, out).exit_code == 0
    patch_id = plan.samples[2 * SHARD]  # the first sample of shard 2
    caption_id = accepted(copy, patch_id)[0][0]
    con = duckdb.connect(str(copy))
    text = 'A new caption of this patch: the "Café" by the river \\ bank,\nlong enough.'
    con.execute("UPDATE captions SET text = ? WHERE caption_id = ?", [text, caption_id])
    con.close()
    result = export(copy, out)
    assert f"1 written, {len(SHARDS) - 1} kept" in result.output
    with tarfile.open(out / "train-000002.tar") as tar:
        raw = tar.extractfile(f"{patch_id}.json").read()
    # quotes, backslash and newline escaped, other characters as UTF-8
    assert json.loads(raw)["annotations"][0]["text"] == text
    assert "Café".encode() in raw and b'\\"Caf' in raw and b"\\n" in raw
    assert files_of(out)["train-000000.tar"] == files_of(reference)["train-000000.tar"]


def test_jpeg_quality_reencodes(warehouse, plan, tmp_path):
    assert export(warehouse, tmp_path / "q50", "--jpeg-quality", "50").exit_code == 0
    first = plan.exported[0]
    con = duckdb.connect(str(warehouse), read_only=True)
    (path,) = con.execute("SELECT path FROM patch_images WHERE patch_id = ?", [first]).fetchone()
    con.close()
    original = (warehouse.parent / path).read_bytes()
    with tarfile.open(tmp_path / "q50" / "train-000000.tar") as tar:
        data = tar.extractfile(f"{first}.jpg").read()
    assert data != original and len(data) < len(original)
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
def test_ray_tasks_write_the_same_bytes(warehouse, reference, tmp_path, local_ray):
    result = export(warehouse, tmp_path / "ray", "--executor", "ray")
    assert result.exit_code == 0, result.output
    assert f"{len(SHARDS)} written, 0 kept; 3 skipped" in result.output
    assert files_of(tmp_path / "ray") == files_of(reference)


def test_a_partition_exports_its_own_samples(warehouse, plan, tmp_path):
    copy = copy_warehouse(warehouse, tmp_path)
    con = duckdb.connect(str(copy))
    con.execute("UPDATE int_patches_gridded SET partition_key = "
                "if(patch_id % 2 = 0, 'n41w075', 'n41w076')")
    even = [p for p in plan.exported if p % 2 == 0]
    areas = con.execute(f"SELECT count(*) FROM captions WHERE status = 'accepted' AND task = 1 "
                        f"AND list_contains({even}, patch_id)").fetchone()[0]
    con.close()
    result = export(copy, tmp_path / "even", "--partition", "n41w075")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "even" / "manifest.json").read_text())
    keys = set()
    for shard in (tmp_path / "even").glob("*.tar"):
        with tarfile.open(shard) as tar:
            keys |= {int(m.name.split(".")[0]) for m in tar.getmembers()}
    assert keys == set(even) and 0 < len(even) < len(plan.exported)
    assert manifest["options"]["partitions"] == ["n41w075"]
    assert manifest["captions_by_task"].get("1", 0) == areas
    assert manifest["captions_by_task"]["3"] == len(even)
