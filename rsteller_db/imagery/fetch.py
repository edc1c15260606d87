"""``images fetch``: JPEGs of the patches that need them, concurrently and resumably.

Targets are the patches named by ``caption_requests`` when that relation exists, else every
patch of ``int_patches_gridded`` (or the first ``limit`` in image/row/column order). A patch
already ``ok`` whose JPEG is on disk is skipped; everything else (never tried, failed, file
gone) is fetched. Each patch is tried ``1 + retries`` times in a run; the outcome goes to
``patch_images`` in batches (``BatchCommitter``), so the warehouse stays free between commits
and an interrupted run loses at most one batch of bookkeeping (its JPEGs are kept and found
again by the next run).
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from .. import defaults
from ..errors import InputError, WarehouseError
from ..paths import data_dir as data_dir_of
from ..paths import sql_folder
from ..progress import QUIET, Reporter
from ..retrying import retrying
from ..settings import Settings, load_settings
from . import remote
from .batches import BatchCommitter
from .pixels import (
    ImageUnavailable,
    PatchWindow,
    PixelReader,
    encode_jpeg,
    make_reader,
    write_atomic,
)

CHUNK = 8  # windows of one image row handed to a thread at once
PATCH_IMAGE_COLUMNS = ("patch_id", "path", "status", "reason", "attempts", "fetched_at")


@dataclass
class FetchSummary:
    targets: int = 0
    already: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)  # first few (patch_id, reason)

    @property
    def per_second(self) -> float:
        return (self.ok + self.failed) / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Outcome:
    window: PatchWindow
    ok: bool
    reason: str | None
    tries: int


_PLAN = """
with targets as (
    select p.patch_id, p.image_name, p.px_x, p.px_y, p.px_size
    from int_patches_gridded as p
    {where}
    order by p.image_name, p.px_y, p.px_x
    {limit}
)
select t.patch_id, t.image_name, i.source, i.uri, i.epsg, i.gsd_m,
       i.native_bounds[1], i.native_bounds[4], t.px_x, t.px_y, t.px_size, i.url_signing,
       pi.status, pi.path, coalesce(pi.attempts, 0)
from targets as t
join stg_naip__images as i using (image_name)
left join patch_images as pi using (patch_id)
order by t.image_name, t.px_y, t.px_x
"""


def _relation_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM (SELECT table_name AS n FROM duckdb_tables() "
            "WHERE schema_name = 'main' UNION ALL SELECT view_name FROM duckdb_views() "
            "WHERE schema_name = 'main') WHERE n = ?",
            [name],
        ).fetchone()[0]
        > 0
    )


def plan(
    con: duckdb.DuckDBPyConnection, data_dir: Path, out_px: int, limit: int | None = None,
    partitions: tuple[str, ...] = (),
) -> tuple[list[tuple[PatchWindow, int]], int, int]:
    """(windows to fetch with their earlier attempts, number of targets, number already done)."""
    for relation in ("int_patches_gridded", "stg_naip__images"):
        if not _relation_exists(con, relation):
            raise InputError(
                f"no {relation} in the warehouse: run `rsteller-db ingest naip ...` "
                "and `rsteller-db build` first"
            )
    conditions, params = [], []
    if _relation_exists(con, "caption_requests"):
        conditions.append("p.patch_id in (select patch_id from caption_requests)")
    if partitions:  # `images fetch --partition KEY` (docs/scale.md)
        conditions.append("p.partition_key in (select unnest(?::varchar[]))")
        params.append(list(partitions))
    where = ("where " + " and ".join(conditions)) if conditions else ""
    sql = _PLAN.format(where=where, limit="limit ?" if limit is not None else "")
    rows = con.execute(sql, params + ([limit] if limit is not None else [])).fetchall()
    todo, done = [], 0
    for (
        pid,
        name,
        source,
        uri,
        epsg,
        gsd,
        x0,
        y0,
        px_x,
        px_y,
        px_size,
        sign,
        status,
        path,
        attempts,
    ) in rows:
        if status == "ok" and path and (data_dir / path).is_file():
            done += 1
            continue
        todo.append(
            (
                PatchWindow(
                    pid, name, source, uri, epsg, gsd, x0, y0, px_x, px_y, px_size, out_px, sign
                ),
                attempts,
            )
        )
    return todo, len(rows), done


def _open_for_plan(path: Path) -> duckdb.DuckDBPyConnection:
    """A plain connection: the plan needs no spatial functions, and loading them costs more than
    planning a small fetch."""
    if not path.is_file():
        raise WarehouseError(f"no warehouse at {path}: run `rsteller-db init` first")
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot open the warehouse {path}: {str(exc).splitlines()[0]}"
        ) from exc
    con.execute((sql_folder("ddl") / "patch_images.sql").read_text())
    return con


def fetch_one(
    reader: PixelReader,
    window: PatchWindow,
    data_dir: Path,
    *,
    quality: int = defaults.JPEG_QUALITY,
    retries: int = defaults.FETCH_RETRIES,
    backoff_s: float = 0.5,
) -> Outcome:
    """Read, encode and store one patch, trying ``1 + retries`` times (``retrying``; an image
    that cannot be opened is not tried again in this run); never raises (the reason is in the
    outcome)."""
    tries = 0
    try:
        for attempt in retrying(
            tries=retries + 1,
            backoff_s=backoff_s,
            retry_if=lambda exc: not isinstance(exc, ImageUnavailable),
        ):
            with attempt:
                tries = attempt.retry_state.attempt_number
                rgb = reader.read(window)
                if rgb.shape != (window.out_px, window.out_px, 3):
                    want = (window.out_px, window.out_px, 3)
                    raise ValueError(f"the reader returned {rgb.shape}, not {want}")
                write_atomic(window.file_in(data_dir), encode_jpeg(rgb, quality))
    except Exception as exc:  # a failed patch is recorded, the run goes on
        text = str(exc).splitlines()[0] if str(exc) else ""
        return Outcome(window, False, f"{type(exc).__name__}: {text}"[:500], tries)
    return Outcome(window, True, None, tries)


def bounded_map(pool: ThreadPoolExecutor, fn: Callable, items: Iterable, window: int) -> Iterator:
    """``fn`` over ``items`` on the pool with at most ``window`` tasks in flight; results in
    completion order."""
    pending: set = set()
    for item in items:
        pending.add(pool.submit(fn, item))
        if len(pending) >= window:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            yield future.result()


def row_chunks(windows: Iterable[PatchWindow], size: int = CHUNK) -> Iterator[list[PatchWindow]]:
    """Runs of consecutive windows of one image row, at most ``size`` long."""
    for _, run in itertools.groupby(windows, key=lambda w: (w.image_name, w.px_y)):
        run = list(run)
        for i in range(0, len(run), size):
            yield run[i : i + size]


def interleave(windows: Iterable[PatchWindow], width: int) -> Iterator[list[PatchWindow]]:
    """Row runs taken round-robin from up to ``width`` images at a time, so that concurrent
    threads mostly read different files (reads of one file are serialised by its reader)."""
    images = (  # list(): a groupby group dies when the next one is taken
        row_chunks(list(group))
        for _, group in itertools.groupby(windows, key=lambda w: w.image_name)
    )
    active = deque(itertools.islice(images, width))
    while active:
        runs = active.popleft()
        run = next(runs, None)
        if run is None:
            active.extend(itertools.islice(images, 1))
            continue
        yield run
        active.append(runs)


def fetch_images(
    path: str | Path,
    *,
    settings: Settings | None = None,
    limit: int | None = None,
    workers: int | None = None,
    retries: int = defaults.FETCH_RETRIES,
    quality: int = defaults.JPEG_QUALITY,
    batch_rows: int = 256,
    backoff_s: float = 0.5,
    timeout_s: float = defaults.FETCH_TIMEOUT_S,
    reader_options: dict | None = None,
    reporter: Reporter = QUIET,
    partitions: tuple[str, ...] = (),
) -> FetchSummary:
    """Fetch the planned patches of the warehouse at ``path`` into ``images/`` beside it.

    ``workers`` defaults to the number of CPUs (at most 8); raise it for URLs and Earth
    Engine, whose reads wait on the network. ``retries``, ``backoff_s`` and ``timeout_s`` also
    set GDAL's own HTTP retries and timeout for images behind URLs.
    """
    workers = workers or min(8, os.cpu_count() or 4)
    settings = settings or load_settings()
    path = Path(path)
    data_dir = data_dir_of(path)
    con = _open_for_plan(path)
    try:
        todo, targets, done = plan(con, data_dir, int(settings["patch_size_px"]), limit,
                                   partitions)
    finally:
        con.close()
    summary = FetchSummary(targets=targets, already=done)
    if not todo:
        return summary
    for name in sorted({w.sign for w, _ in todo if w.sign}):
        remote.signer(name)  # a missing extra stops the run here, not once per patch
    if any(remote.is_url(w.uri) for w, _ in todo):
        remote.clear_http_cache()  # this run asks the servers afresh
    options = {"retries": retries, "backoff_s": backoff_s, "timeout_s": timeout_s}
    readers = {
        src: make_reader(src, **options, **(reader_options or {}))
        for src in sorted({w.source for w, _ in todo})
    }
    earlier = {w.patch_id: n for w, n in todo}

    def work(run: list[PatchWindow]) -> list[Outcome]:
        reader = readers[run[0].source]  # a run holds windows of one image
        with reader.session():
            return [
                fetch_one(
                    reader, w, data_dir, quality=quality, retries=retries, backoff_s=backoff_s
                )
                for w in run
            ]

    started = time.perf_counter()
    try:
        with (
            BatchCommitter(
                path, "patch_images", PATCH_IMAGE_COLUMNS, batch_rows=batch_rows
            ) as sink,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool,
            reporter.bar("fetching patches", total=len(todo)) as bar,
        ):
            runs = interleave((w for w, _ in todo), width=workers)
            for out in itertools.chain.from_iterable(
                bounded_map(pool, work, runs, window=workers * 2)
            ):
                w = out.window
                sink.add(
                    (
                        w.patch_id,
                        w.relative_path if out.ok else None,
                        "ok" if out.ok else "failed",
                        out.reason,
                        earlier[w.patch_id] + out.tries,
                        datetime.now(),
                    )
                )
                if out.ok:
                    summary.ok += 1
                else:
                    summary.failed += 1
                    if len(summary.failures) < 20:
                        summary.failures.append((w.patch_id, out.reason or ""))
                bar.advance()
                if summary.failed:
                    bar.note(f"{summary.failed} failed")
    finally:
        for reader in readers.values():
            reader.close()
        summary.seconds = time.perf_counter() - started
    return summary
