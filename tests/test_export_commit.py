"""Committing shard files: vectored lots, hashes read back, commits on the finisher thread."""

from __future__ import annotations

import hashlib
import shutil

import pyarrow as pa
import pytest

from rsteller_db.export.runner import _Finisher
from rsteller_db.export.shards import ShardJob, WrittenShard, write_shard_files
from rsteller_db.export.writers import IOV_MAX, LOT_BYTES, AtomicFile, ExportError


def test_many_small_pieces_land_whole_and_hashed(tmp_path):
    # more pieces than one vectored write takes, of mixed kinds, around the lot size
    pieces = [bytes([i % 251]) * (i % 700) for i in range(3 * IOV_MAX)]
    pieces += [bytearray(b"x" * LOT_BYTES), memoryview(b"tail")]
    out = AtomicFile(tmp_path / "a.bin")
    for i in range(0, len(pieces), 7):
        out.writelines(pieces[i:i + 7])
    assert out.tmp.exists() and not (tmp_path / "a.bin").exists()
    info = out.commit()
    data = b"".join(bytes(p) for p in pieces)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert not out.tmp.exists()
    assert (info.name, info.bytes, info.sha256) == ("a.bin", len(data),
                                                    hashlib.sha256(data).hexdigest())


def test_abort_leaves_nothing(tmp_path):
    out = AtomicFile(tmp_path / "b.bin")
    out.write(b"partial")
    out.abort()
    assert list(tmp_path.iterdir()) == []


def _written(folder, index: int) -> WrittenShard:
    job = ShardJob(folder, "wds", "train", index, "plan", pa.table({"patch_id": [index]}),
                   str(folder), 448, None)
    file = AtomicFile(folder / f"train-{index:06d}.tar")
    file.write(b"shard %d" % index)
    file.seal()
    return WrittenShard(job, [file], {"shard": f"train-{index:06d}", "samples": 1})


def test_finisher_commits_in_order_and_writes_stats_last(tmp_path):
    finisher = _Finisher()
    try:
        for index in range(3):
            finisher.submit(_written(tmp_path, index))
        done = finisher.finish()
    finally:
        finisher.close()
    assert sorted(done) == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"train-{i:06d}{ext}" for i in range(3) for ext in (".tar", "_stats.json")]
    assert done[1]["files"][0]["sha256"] == hashlib.sha256(b"shard 1").hexdigest()


def test_a_failed_commit_surfaces_and_drops_the_next_shard(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    broken = _written(first, 0)
    shutil.rmtree(first)  # the rename of the finished shard cannot happen
    finisher = _Finisher()
    try:
        finisher.submit(broken)
        waiting = _written(second, 1)
        with pytest.raises(ExportError, match="writing shard train-000000 .* failed"):
            finisher.submit(waiting)
    finally:
        finisher.close()
    assert list(second.iterdir()) == []  # the shard written meanwhile left no temporary file


def test_a_shard_that_cannot_start_names_the_cause(tmp_path):
    # the folder vanished after the export checked it: the error is the missing folder
    gone = tmp_path / "gone"
    table = pa.table({"patch_id": [1], "_digest": ["0"], "_document": [b"{}"]})
    job = ShardJob(gone, "wds", "train", 0, "plan", table, str(tmp_path), 448, None)
    with pytest.raises(ExportError, match="writing shard train-000000 .* No such file"):
        write_shard_files(job)
