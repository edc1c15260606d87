"""The export driver: plan shards in a stable order, write the missing ones, write the manifest.

Samples are taken in ``patch_id`` order and cut into shards of ``shard_size``; shard ``k``
always holds the same patches for the same warehouse. Each finished shard has a stats file,
written last, that records a hash of what the shard holds; a re-run keeps every shard whose
stats match and writes the others, so an interrupted export resumes where it stopped and
the result is byte-identical to an uninterrupted one. With ``workers`` > 1, shards are
written by that many processes (spawned, never forked from the DuckDB process), and with
``executor='ray'`` by Ray tasks across a cluster; the bytes depend on neither.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .. import defaults
from ..paths import inside
from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .manifest import build_manifest
from .outdir import (
    MANIFEST,
    prepare,
    remove_shards_from,
    shard_stem,
    stats_name,
    write_json_atomic,
)
from .reader import SampleMaker, SampleReader, SkipSample, digests, metadata_schema
from .writers import AtomicFile, ExportError, writer_for

PLAN_VERSION = 2  # 2: compact JSON documents written by DuckDB; a folder of version 1 is rewritten


@dataclass(frozen=True)
class ExportOptions:
    fmt: str = defaults.EXPORT_FORMAT
    split: str = defaults.EXPORT_SPLIT
    shard_size: int = defaults.SHARD_SIZE
    jpeg_quality: int | None = None
    overwrite: bool = False
    workers: int = defaults.EXPORT_WORKERS
    # local: this process (+ --workers processes) | ray: Ray tasks
    executor: str = defaults.EXPORT_EXECUTOR
    partitions: tuple[str, ...] = ()  # only the samples of these partitions

    def check(self) -> None:
        if self.shard_size < 1:
            raise ExportError(f"--shard-size must be 1 or more, got {self.shard_size}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ExportError(f"--jpeg-quality must be 1-100, got {self.jpeg_quality}")
        if self.workers < 1:
            raise ExportError(f"--workers must be 1 or more, got {self.workers}")
        if self.executor not in ("local", "ray"):
            raise ExportError(f"--executor is local or ray, got {self.executor!r}")


@dataclass
class ExportResult:
    out: Path
    shards: list[dict] = field(default_factory=list)
    written: int = 0
    kept: int = 0
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        return sum(s["samples"] for s in self.shards)

    @property
    def skipped(self) -> list[dict]:
        return [item for s in self.shards for item in s["skipped"]]


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


def _patch_size(wh: Warehouse) -> int:
    row = wh.con.execute("SELECT setting('patch_size_px')").fetchone()
    return int(row[0]) if row and row[0] else int(wh.settings["patch_size_px"])


def _kept(out: Path, split: str, index: int, plan: str) -> dict | None:
    """The stats of shard ``index`` when it is finished and holds exactly ``plan``."""
    path = out / stats_name(split, index)
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if stats.get("plan") != plan:
        return None
    for item in stats.get("files", []):
        file = out / item["name"]
        if not file.is_file() or file.stat().st_size != item["bytes"]:
            return None
    return stats


def _failed(job: ShardJob, exc: OSError) -> ExportError:
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
            raise _failed(job, exc) from exc
        return stats

    def abort(self) -> None:
        for file in self.files:
            file.abort()


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
        raise _failed(job, exc) from exc
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
    """Write and commit one shard; returns its stats (what worker processes run)."""
    return write_shard_files(job, advance).commit()


class _Finisher:
    """Commits written shards on one background thread, one at a time, in order.

    Syncing a shard to disk waits on the device, not the CPU: done here, it overlaps with
    writing the next shard. At most one shard waits to be committed while the next is
    written, so memory stays flat; an error surfaces on the next ``submit`` or on ``finish``,
    and the shard then waiting is aborted (a re-run writes it).
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rsteller-export-commit")
        self._pending: tuple[Future, WrittenShard] | None = None
        self.done: dict[int, dict] = {}

    def _wait(self) -> None:
        if self._pending is not None:
            future, shard = self._pending
            self._pending = None
            self.done[shard.job.index] = future.result()  # a commit's error is raised here

    def submit(self, shard: WrittenShard) -> None:
        try:
            self._wait()
        except BaseException:
            shard.abort()
            raise
        self._pending = (self._pool.submit(shard.commit), shard)

    def finish(self) -> dict[int, dict]:
        self._wait()
        return self.done

    def close(self) -> None:
        """Let a commit in progress end (its files stay whole either way), stop the thread."""
        self._pool.shutdown(wait=True)


class _Pool:
    """Shards written by worker processes, at most ``workers`` + 1 in flight (flat memory)."""

    def __init__(self, workers: int, advance: Callable[[int], None]):
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(workers, mp_context=context)
        self._limit = workers + 1
        self._running: dict[Future, ShardJob] = {}
        self._advance = advance
        self.done: dict[int, dict] = {}

    def submit(self, job: ShardJob) -> None:
        self._running[self._pool.submit(write_shard, job)] = job
        while len(self._running) >= self._limit:
            self._collect(FIRST_COMPLETED)

    def _collect(self, when) -> None:
        finished, _ = wait(self._running, return_when=when)
        for future in finished:
            job = self._running.pop(future)
            self.done[job.index] = future.result()  # a worker's error is raised here
            self._advance(job.table.num_rows)

    def finish(self) -> dict[int, dict]:
        if self._running:
            self._collect(ALL_COMPLETED)
        return self.done

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _RayPool(_Pool):
    """Shards written by Ray tasks (``ray.init()`` joins ``RAY_ADDRESS`` or starts a local
    cluster), at most twice the cluster's CPUs in flight. The output folder must be on storage
    every node mounts; the bytes are those of a local export."""

    def __init__(self, advance: Callable[[int], None]):
        try:
            import ray
        except ImportError:
            raise ExportError("--executor ray needs Ray: pip install 'rsteller-db[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False)
        self._ray = ray
        self._task = ray.remote(num_cpus=1, max_retries=0)(write_shard)
        self._limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._running: dict = {}
        self._advance = advance
        self.done: dict[int, dict] = {}

    def submit(self, job: ShardJob) -> None:
        self._running[self._task.remote(job)] = job
        while len(self._running) >= self._limit:
            self._collect(1)

    def _collect(self, n: int) -> None:
        finished, _ = self._ray.wait(list(self._running), num_returns=n)
        for ref in finished:
            job = self._running.pop(ref)
            try:
                self.done[job.index] = self._ray.get(ref)
            except self._ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, Exception) else exc
                raise cause if isinstance(cause, ExportError) else ExportError(
                    f"a shard failed on Ray: {cause}") from None
            self._advance(job.table.num_rows)

    def finish(self) -> dict[int, dict]:
        if self._running:
            self._collect(len(self._running))
        return self.done

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref)


def export_dataset(wh: Warehouse, out: str | Path, options: ExportOptions = ExportOptions(),
                   reporter: Reporter = QUIET) -> ExportResult:
    """Export the warehouse's ``dataset_samples`` to ``out``; resumes an interrupted export."""
    options.check()
    out = Path(out)
    started = time.perf_counter()
    reader = SampleReader(wh, options.partitions)
    schema = reader.schema()
    writer_for(options.fmt, schema)  # an unknown format fails before the folder is touched
    prepare(out, split=options.split, fmt=options.fmt, overwrite=options.overwrite)
    patch_size = _patch_size(wh)
    settings = {
        "format": options.fmt, "split": options.split, "shard_size": options.shard_size,
        "jpeg_quality": options.jpeg_quality, "patch_size_px": patch_size,
    }
    if options.partitions:  # a partition's export is its own dataset (other shards, manifest)
        settings["partitions"] = sorted(options.partitions)
    fingerprint = json.dumps({**settings, "plan_version": PLAN_VERSION, "schema": str(schema)},
                             sort_keys=True)
    result = ExportResult(out)
    stats_by_shard: dict[int, dict] = {}
    total = None if reporter.quiet else reader.count()  # the count runs the whole view
    if total is not None:
        reporter.step(f"exporting {total} sample(s) as {options.fmt} shards of "
                      f"{options.shard_size} to {out}")
    with reporter.bar("samples", total=total) as bar:
        if options.executor == "ray":
            pool = _RayPool(bar.advance)
        else:
            pool = _Pool(options.workers, bar.advance) if options.workers > 1 else None
        finisher = _Finisher() if pool is None else None
        try:
            for index, table in enumerate(reader.shard_tables(options.shard_size)):
                plan = hashlib.sha256(
                    (fingerprint + "".join(digests(table))).encode()).hexdigest()
                stats = _kept(out, options.split, index, plan)
                if stats is not None:
                    result.kept += 1
                    stats_by_shard[index] = stats
                    bar.advance(table.num_rows)
                    continue
                job = ShardJob(out, options.fmt, options.split, index, plan, table,
                               str(wh.data_dir), patch_size, options.jpeg_quality)
                result.written += 1
                if pool is None:
                    finisher.submit(write_shard_files(job, bar.advance))
                else:
                    pool.submit(job)
            stats_by_shard.update(pool.finish() if pool is not None else finisher.finish())
        finally:
            if pool is not None:
                pool.close()
            if finisher is not None:
                finisher.close()
    result.shards = [stats_by_shard[i] for i in sorted(stats_by_shard)]
    stale = remove_shards_from(out, options.split, len(result.shards))
    if stale:
        reporter.info(f"removed {len(stale)} file(s) of shards the warehouse no longer fills")
    manifest = build_manifest(wh, fmt=options.fmt, split=options.split, options=settings,
                              shards=result.shards)
    try:
        write_json_atomic(out / MANIFEST, manifest)
    except OSError as exc:
        raise ExportError(f"cannot write {out / MANIFEST}: {exc.strerror or exc}; free space "
                          "and re-run the same command") from exc
    result.seconds = time.perf_counter() - started
    return result
