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
import multiprocessing
import os
import pickle
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
    by_helpers: int = 0  # of the shards written, those written by helper processes
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

    def hand_over(self) -> WrittenShard:
        """This shard as it travels back from a helper process: its files released (complete,
        closed), its rows left behind; the exporter's finisher commits it."""
        for file in self.files:
            file.release()
        return WrittenShard(replace(self.job, table=self.job.table.slice(0, 0)), self.files,
                            self.stats)


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
    """Write and commit one shard; returns its stats (what Ray tasks run)."""
    return write_shard_files(job, advance).commit()


def write_for_commit(job: ShardJob) -> WrittenShard:
    """Write one shard's files and hand them back uncommitted (what helper processes run)."""
    return write_shard_files(job).hand_over()


def _write_pickled(payload: bytes) -> WrittenShard:
    """A helper's task: the job arrives pickled by the exporter's own thread (see submit)."""
    return write_for_commit(pickle.loads(payload))


def _warm_up() -> None:
    """A helper's first second goes to imports: made while the exporter runs its query."""
    import pyarrow.compute  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from PIL import JpegImagePlugin  # noqa: F401


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


@contextmanager
def _main_not_inherited() -> Iterator[None]:
    """Processes spawned inside this block do not re-import the program's ``__main__``.

    A spawned child runs the parent's main script (or module) again before its first task; for
    ``rsteller-db`` that is the whole CLI, a third of a helper's start-up. Helpers only run
    functions of this module, so they do not need it: multiprocessing skips the step for a
    ``__main__`` that has neither ``__spec__`` nor ``__file__``, which is what this hides
    while the processes start.
    """
    main = sys.modules["__main__"]
    spec, file = getattr(main, "__spec__", None), main.__dict__.pop("__file__", _NONE)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if file is not _NONE:
            main.__file__ = file


_NONE = object()


class ExportHelpers:
    """Helper processes that write shards while the exporting process writes others.

    ``count`` processes (``ExportOptions.workers`` - 1; 0 starts none) are spawned at once (a
    fork of the DuckDB process is unsafe); start them before opening the warehouse and they
    import while it opens and runs the export query (the CLI does)::

        with ExportHelpers.for_options(options) as helpers, Warehouse(path, read_only=True) as wh:
            export_dataset(wh, out, options, helpers=helpers)

    A shard goes to a helper when fewer than ``count`` + 1 are in flight (one waits, so no
    helper idles), else the exporting process writes it itself: the work balances with no
    tuning, and at most ``count`` + 1 shard tables are in transit (flat memory). Helpers only
    write; their files come back released and the exporter's finisher thread commits them
    with its own, so hashing and syncing never hold up a writer.
    """

    def __init__(self, count: int):
        self.count = count
        self._limit = count + 1 if count else 0
        self._running: dict[Future, ShardJob] = {}
        self._pool = None
        if count:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(count, mp_context=context, initializer=_warm_up)
            with _main_not_inherited():
                for _ in range(count):  # processes start on demand: start them all now
                    self._pool.submit(int)

    @classmethod
    def for_options(cls, options: ExportOptions) -> ExportHelpers:
        return cls(max(0, options.workers - 1) if options.executor == "local" else 0)

    def __enter__(self) -> ExportHelpers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has_room(self) -> bool:
        return len(self._running) < self._limit

    def submit(self, job: ShardJob) -> None:
        # pickled here, not on the executor's feeder thread: that thread waited 0.2-0.45 s
        # for the GIL while this one wrote a shard, and the helper idled meanwhile
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self._running[self._pool.submit(_write_pickled, payload)] = job

    def collect(self, block: bool = False) -> list[tuple[WrittenShard, int]]:
        """Shards the helpers have finished (all of them when ``block``), with their rows."""
        if not self._running:
            return []
        finished, _ = wait(self._running, timeout=None if block else 0,
                           return_when=ALL_COMPLETED if block else FIRST_COMPLETED)
        done = []
        for future in sorted(finished, key=lambda f: self._running[f].index):
            job = self._running.pop(future)
            done.append((future.result(), job.table.num_rows))  # a helper's error is raised here
        return done

    def close(self) -> None:
        if self._pool is None:
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future in self._running:  # written, never to be committed: no .tmp left behind
            if not future.cancelled() and future.exception() is None:
                future.result().abort()
        self._running.clear()


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
    finisher = _Finisher(waiting=helpers.count + 1)
    try:
        for job in jobs:
            if helpers.has_room():
                helpers.submit(job)
                result.by_helpers += 1
            else:
                finisher.submit(write_shard_files(job, advance))
            for shard, rows in helpers.collect():
                finisher.submit(shard)
                advance(rows)
        for shard, rows in helpers.collect(block=True):
            finisher.submit(shard)
            advance(rows)
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
