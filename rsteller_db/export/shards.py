"""One shard: what it holds (a job), writing its files, and committing them.

A shard is written in two steps. ``write_shard_files`` writes its files complete under
temporary names; ``WrittenShard.commit`` syncs and renames them and then writes the stats file,
which marks the shard done. The exporting process, a helper process or a Ray task writes; the
exporting process (or the Ray task) commits. This module needs no warehouse, so helper
processes import it without DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from ..paths import inside
from .outdir import shard_stem, stats_name, write_json_atomic
from .reader import SampleMaker, SkipSample, metadata_schema
from .writers import AtomicFile, ExportError, writer_for


@dataclass(frozen=True)
class ShardJob:
    """Everything needed to write one shard, in a worker process or in this one."""

    out: Path
    fmt: str
    split: str
    index: int
    plan: str
    table: pa.Table
    root: str
    patch_size_px: int
    jpeg_quality: int | None

    def without_rows(self) -> ShardJob:
        """This job with an empty table: what travels between processes beside the rows (a
        pickled slice of a table carries the whole table's buffers, an empty table none;
        ``Schema.empty_table`` would import pandas, 0.3-0.7 s of a helper's first shard)."""
        return replace(self, table=pa.Table.from_batches([], schema=self.table.schema))


def shard_failed(job: ShardJob, exc: OSError) -> ExportError:
    stem = shard_stem(job.split, job.index)
    return ExportError(
        f"writing shard {stem} in {job.out} failed: {exc.strerror or exc}; nothing truncated "
        "was left under a final name and finished shards are kept: free space (or fix the "
        "folder) and re-run the same command to write the rest"
    )


@dataclass
class WrittenShard:
    """A shard whose files are complete but not yet committed, and its stats so far."""

    job: ShardJob
    files: list[AtomicFile]
    stats: dict

    def commit(self) -> dict:
        """Sync and rename every file, then write the stats file (which marks the shard done).
        Runs on the finisher thread while the next shard is written."""
        job = self.job
        try:
            infos = []
            for i, file in enumerate(self.files):
                try:
                    infos.append(file.commit())
                except BaseException:
                    for rest in self.files[i:]:
                        rest.abort()
                    raise
            stats = {**self.stats, "files": [info.to_json() for info in infos],
                     "plan": job.plan}
            write_json_atomic(job.out / stats_name(job.split, job.index), stats)
        except OSError as exc:
            raise shard_failed(job, exc) from exc
        return stats

    def abort(self) -> None:
        for file in self.files:
            file.abort()

    def hand_over(self) -> WrittenShard:
        """This shard as it travels back from a helper process: its files released (complete,
        hashed, closed), its rows left behind; the exporter's finisher commits it."""
        for file in self.files:
            file.release()
        return WrittenShard(self.job.without_rows(), self.files, self.stats)


def write_shard_files(job: ShardJob, advance: Callable[[int], None] | None = None
                      ) -> WrittenShard:
    """Write one shard's files, complete but uncommitted (see :meth:`WrittenShard.commit`)."""
    stem = shard_stem(job.split, job.index)
    writer = writer_for(job.fmt, metadata_schema(job.table.schema))
    maker = SampleMaker(job.root, patch_size_px=job.patch_size_px, jpeg_quality=job.jpeg_quality)
    skipped: list[dict] = []
    tasks: dict[int, int] = {}
    written = 0
    ids = job.table.column("patch_id")
    try:
        writer.open(inside(job.out, stem))
        for row in maker.rows(job.table):
            try:
                sample = maker.sample(row, writer.needs_image)
            except SkipSample as exc:
                skipped.append({"patch_id": row.patch_id, "reason": str(exc)})
            else:
                writer.write(sample)
                written += 1
                for task in row.tasks:
                    tasks[task] = tasks.get(task, 0) + 1
            if advance:
                advance(1)
        files = writer.close()
    except OSError as exc:
        writer.abort()
        raise shard_failed(job, exc) from exc
    except BaseException:
        writer.abort()
        raise
    stats = {
        "shard": stem, "format": job.fmt, "split": job.split, "samples": written,
        "first_patch_id": ids[0].as_py(), "last_patch_id": ids[-1].as_py(),
        "captions_by_task": {str(task): n for task, n in sorted(tasks.items())},
        "skipped": skipped,
    }
    return WrittenShard(job, files, stats)


def write_shard(job: ShardJob, advance: Callable[[int], None] | None = None) -> dict:
    """Write and commit one shard; returns its stats (what Ray tasks run)."""
    return write_shard_files(job, advance).commit()

