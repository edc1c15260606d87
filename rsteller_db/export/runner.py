"""The export driver: plan shards in a stable order, write the missing ones, write the manifest.

Samples are taken in ``patch_id`` order and cut into shards of ``shard_size``; shard ``k``
always holds the same patches for the same warehouse. Each finished shard has a stats file,
written last, that records a hash of what the shard holds; a re-run keeps every shard whose
stats match and writes the others, so an interrupted export resumes where it stopped and
the result is byte-identical to an uninterrupted one. With ``workers`` N > 1, this process
and N - 1 helper processes (spawned, never forked from the DuckDB process) write shards, and
this process commits them all; with ``executor='ray'`` Ray tasks across a cluster write and
commit them. The bytes depend on neither.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import defaults
from ..progress import QUIET, Reporter
from .helpers import QUEUED, ExportHelpers
from .manifest import build_manifest
from .outdir import MANIFEST, prepare, remove_shards_from, stats_name, write_json_atomic
from .reader import SampleReader, digests
from .shards import ShardJob, WrittenShard, write_shard, write_shard_files
from .writers import ExportError, writer_for

if TYPE_CHECKING:
    from ..warehouse import Warehouse

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
    by_helpers: int = 0  # of the shards written, those written by helper processes
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        return sum(s["samples"] for s in self.shards)

    @property
    def skipped(self) -> list[dict]:
        return [item for s in self.shards for item in s["skipped"]]


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


class _Finisher:
    """Commits written shards on one background thread, one at a time, in order.

    Syncing a shard to disk waits on the device, not the CPU: done here, it overlaps with
    writing the next shard. At most ``waiting`` shards wait to be committed (one for a single
    process; with helpers, one more than there are helpers, as each brings its shards here),
    so memory stays flat; an error surfaces on the next ``submit`` or on ``finish``, and the
    shards then waiting are aborted (a re-run writes them).
    """

    def __init__(self, waiting: int = 1):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rsteller-export-commit")
        self._pending: deque[tuple[Future, WrittenShard]] = deque()
        self._waiting = waiting
        self.done: dict[int, dict] = {}

    def _wait(self, keep: int) -> None:
        """Wait until at most ``keep`` shards are pending."""
        while len(self._pending) > keep:
            future, shard = self._pending.popleft()
            try:
                self.done[shard.job.index] = future.result()  # a commit's error is raised here
            except BaseException:
                self._drop()
                raise

    def _drop(self) -> None:
        """After a failed commit: the commits not yet started are not made."""
        while self._pending:
            future, shard = self._pending.pop()
            if future.cancel():
                shard.abort()

    def submit(self, shard: WrittenShard) -> None:
        try:
            self._wait(self._waiting - 1)
        except BaseException:
            shard.abort()
            raise
        self._pending.append((self._pool.submit(shard.commit), shard))

    def finish(self) -> dict[int, dict]:
        self._wait(0)
        return self.done

    def close(self) -> None:
        """Let a commit in progress end (its files stay whole either way), stop the thread."""
        self._drop()
        self._pool.shutdown(wait=True)


class _RayPool:
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


def _jobs(reader: SampleReader, options: ExportOptions, fingerprint: str, root: str,
          patch_size: int, result: ExportResult, kept: dict[int, dict],
          advance: Callable[[int], None]) -> Iterator[ShardJob]:
    """The shards to write, in order; finished shards that still hold their plan are kept
    (their stats go to ``kept``) and not yielded."""
    for index, table in enumerate(reader.shard_tables(options.shard_size)):
        plan = hashlib.sha256((fingerprint + "".join(digests(table))).encode()).hexdigest()
        stats = _kept(result.out, options.split, index, plan)
        if stats is not None:
            result.kept += 1
            kept[index] = stats
            advance(table.num_rows)
            continue
        result.written += 1
        yield ShardJob(result.out, options.fmt, options.split, index, plan, table, root,
                       patch_size, options.jpeg_quality)


def _write_here(jobs: Iterator[ShardJob], helpers: ExportHelpers, result: ExportResult,
                advance: Callable[[int], None]) -> dict[int, dict]:
    """Write the shards in this process and its helpers; one finisher thread commits all."""
    finisher = _Finisher(waiting=QUEUED * helpers.count + 1)

    def commit_theirs(done: list[tuple[WrittenShard, int]]) -> None:
        for shard, rows in done:
            finisher.submit(shard)
            advance(rows)
            result.by_helpers += 1

    try:
        for job in jobs:
            if helpers.has_room():
                helpers.submit(job)
            else:
                finisher.submit(write_shard_files(job, advance))
            commit_theirs(helpers.collect())
        # no shard left to plan: write those no helper has started, then wait for the rest
        while (job := helpers.take_back()) is not None:
            finisher.submit(write_shard_files(job, advance))
            commit_theirs(helpers.collect())
        commit_theirs(helpers.collect(block=True))
        helpers.stop()
        return finisher.finish()
    finally:
        finisher.close()


def _write_on_ray(jobs: Iterator[ShardJob], advance: Callable[[int], None]) -> dict[int, dict]:
    pool = _RayPool(advance)
    try:
        for job in jobs:
            pool.submit(job)
        return pool.finish()
    finally:
        pool.close()


def export_dataset(wh: Warehouse, out: str | Path, options: ExportOptions = ExportOptions(),
                   reporter: Reporter = QUIET, helpers: ExportHelpers | None = None
                   ) -> ExportResult:
    """Export the warehouse's ``dataset_samples`` to ``out``; resumes an interrupted export.
    ``helpers``: processes started beforehand (:class:`ExportHelpers`), else started here."""
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
    local = options.executor == "local"
    # helpers start before the query (if the caller has not started them before opening the
    # warehouse), so their imports overlap it
    own = helpers is None
    if own:
        helpers = ExportHelpers.for_options(options)
    try:
        total = None if reporter.quiet else reader.count()  # the count runs the whole view
        if total is not None:
            reporter.step(f"exporting {total} sample(s) as {options.fmt} shards of "
                          f"{options.shard_size} to {out}")
        with reporter.bar("samples", total=total) as bar:
            jobs = _jobs(reader, options, fingerprint, str(wh.data_dir), patch_size,
                         result, stats_by_shard, bar.advance)
            if local:
                stats_by_shard.update(_write_here(jobs, helpers, result, bar.advance))
            else:
                stats_by_shard.update(_write_on_ray(jobs, bar.advance))
    finally:
        if own:
            helpers.close()
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
