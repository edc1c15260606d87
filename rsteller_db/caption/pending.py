"""Pending caption requests, read from the warehouse in bounded chunks.

A request is pending when it has no accepted caption and its last attempt failed, it was never
asked, or it was rejected at most ``retry_rejected`` times. A phase never holds all of them:
``PendingRequests.chunks`` yields lists of at most ``window`` requests, each read in one short
read-only open, so memory is bounded by the window whatever the number of requests.

- A request *table* (``caption_requests``) is read in its storage order, ``window`` row ids at a
  time: DuckDB skips straight to those rows, so a chunk costs the same at 1,000 requests or
  1,000,000, and the first chunk is ready at once.
- A *view* (``revision_requests`` computes its payloads from the live ``captions``) cannot be
  read by row id, and each evaluation costs a pass over its inputs. It is evaluated once, when
  the phase starts, into a spill file beside the warehouse (``caption-pending-*.parquet``, row
  groups of ``window`` rows, removed when the phase ends), which is then read a row group at a
  time.

The runner sorts each chunk by prompt text, so requests sharing instructions and examples reach
the server together. ``where`` (SQL over ``request_id, patch_id, task, prompt_name, payload``)
narrows a run to part of the warehouse, e.g. one partition; ``attempted_only`` to the requests
tried before (what a fall-back back end takes over).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from ..paths import data_dir, inside
from .store import CaptionError, CaptionStore

SOURCES = {1: "caption_requests", 2: "caption_requests", 3: "revision_requests"}
_COLUMNS = "request_id, patch_id, task, prompt_name, payload"


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    patch_id: int
    task: int
    prompt_name: str
    payload: dict
    attempt: int  # the attempt number this run will write
    rejected_before: int  # rejected attempts already stored


class PendingRequests:
    """The pending requests of ``tasks``: how many (``count``) and, chunk by chunk, which."""

    def __init__(
        self,
        store: CaptionStore,
        tasks: tuple[int, ...],
        retry_rejected: int,
        *,
        where: str | None = None,
        attempted_only: bool = False,
        lock_wait_s: float = 300.0,
    ):
        self.store = store
        self.tasks = tasks
        self.retry_rejected = retry_rejected
        self.where = where
        self.attempted_only = attempted_only
        self.lock_wait_s = lock_wait_s
        self.sources = sorted({SOURCES[t] for t in tasks})
        self._tasks = ", ".join(str(int(t)) for t in tasks)
        self._filter = f" AND ({where})" if where else ""

    # -- SQL pieces ------------------------------------------------------------------------
    def _requests(self, source: str, extra: str = "") -> str:
        return (
            f"SELECT {_COLUMNS} FROM {source} WHERE task IN ({self._tasks}){extra}{self._filter}"
        )

    def _history(self, scope: str = "") -> str:
        return f"""
            SELECT request_id,
                   count(*) FILTER (WHERE status = 'accepted') AS accepted,
                   count(*) FILTER (WHERE status = 'rejected') AS rejected,
                   max(attempt) AS last_attempt,
                   arg_max(status, attempt) AS last_status
            FROM captions WHERE task IN ({self._tasks}){scope} GROUP BY request_id"""

    _PENDING = (
        "coalesce(h.accepted, 0) = 0 AND (h.request_id IS NULL OR h.last_status = 'failed' "
        "OR h.rejected <= $retry) AND (NOT $attempted OR h.request_id IS NOT NULL)"
    )
    _SELECT = (
        "SELECT r.request_id, r.patch_id, r.task, r.prompt_name, r.payload::VARCHAR AS payload, "
        "coalesce(h.last_attempt, 0) + 1 AS attempt, coalesce(h.rejected, 0) AS rejected "
        "FROM requests r LEFT JOIN history h USING (request_id)"
    )

    def _params(self, **more) -> dict:
        return {"retry": self.retry_rejected, "attempted": self.attempted_only, **more}

    def _run(self, con, sql: str, params: dict):
        try:
            return con.execute(sql, params)
        except duckdb.Error as exc:
            if not self.where:
                raise
            raise CaptionError(
                f"--where {self.where!r} is not a condition over the requests "
                f"(request_id, patch_id, task, prompt_name, payload): {exc}"
            ) from exc

    def _tables(self, con) -> set[str]:
        """The sources that are tables (read by row id); check every source exists."""
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        views = {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'").fetchall()}
        for source in self.sources:
            if source not in tables | views:
                raise CaptionError(
                    f"no {source} in {self.store.path}: run `rsteller-db build` first"
                )
        return tables & set(self.sources)

    # -- reads -----------------------------------------------------------------------------
    def count(self) -> int:
        """How many requests are pending now (one pass over the requests and the captions)."""
        union = " UNION ALL ".join(self._requests(s) for s in self.sources)
        sql = (f"WITH requests AS ({union}), history AS ({self._history()}) "
               f"SELECT count(*) FROM ({self._SELECT} WHERE {self._PENDING})")
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            self._tables(con)
            return self._run(con, sql, self._params()).fetchone()[0]

    def chunks(self, window: int, limit: int | None = None) -> Iterator[list[PendingRequest]]:
        """Lists of at most ``window`` pending requests, ``limit`` in all; the file is held
        only while a chunk (or a view's spill file) is read."""
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            tables = self._tables(con)
        left = limit
        for source in self.sources:
            reader = self._by_row_id if source in tables else self._spilled
            for rows in reader(source, window):
                chunk = [
                    PendingRequest(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
                    for r in rows[:left]
                ]
                if chunk:
                    yield chunk
                if left is not None:
                    left -= len(chunk)
                    if left <= 0:
                        return

    def _by_row_id(self, table: str, window: int) -> Iterator[list[tuple]]:
        scope = "rowid >= $lo AND rowid < $hi"
        sql = (
            f"WITH requests AS ({self._requests(table, ' AND ' + scope)}), "
            f"history AS ({self._history(' AND request_id IN (SELECT request_id FROM requests)')})"
            f" {self._SELECT} WHERE {self._PENDING}"
        )
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            last = con.execute(f"SELECT coalesce(max(rowid), -1) FROM {table}").fetchone()[0]
        for lo in range(0, last + 1, window):
            with self.store.connect(self.lock_wait_s, read_only=True) as con:
                rows = self._run(con, sql, self._params(lo=lo, hi=lo + window)).fetchall()
            if rows:
                yield rows

    def _spilled(self, view: str, window: int) -> Iterator[list[tuple]]:
        import pyarrow.parquet as pq

        folder = data_dir(self.store.path)
        spill = inside(folder, f"caption-pending-{uuid.uuid4().hex[:12]}.parquet")
        sql = (
            f"COPY (WITH requests AS ({self._requests(view)}), history AS ({self._history()}) "
            f"{self._SELECT} WHERE {self._PENDING}) TO '{str(spill).replace(chr(39), chr(39) * 2)}'"
            f" (FORMAT parquet, ROW_GROUP_SIZE {int(window)})"
        )
        try:
            with self.store.connect(self.lock_wait_s, read_only=True) as con:
                self._run(con, sql, self._params())
            # One row group in memory at a time (DuckDB writes them of about ``window`` rows,
            # rounded up to its vector size): iter_batches read ahead and kept what it had read,
            # which grew with the phase.
            with pq.ParquetFile(spill) as file:
                for group in range(file.num_row_groups):
                    for batch in file.read_row_group(group).to_batches(max_chunksize=window):
                        yield list(zip(*(c.to_pylist() for c in batch.columns), strict=True))
        finally:
            spill.unlink(missing_ok=True)
