"""Pending caption requests, read from the warehouse in bounded chunks.

A request is pending when it has no accepted caption and its last attempt failed, it was never
asked, or it was rejected at most ``retry_rejected`` times. A phase never holds all of them:
``PendingRequests.chunks`` yields lists of at most ``window`` requests, each read in one short
read-only open, so memory is bounded by the window whatever the number of requests.

Requests are read one ``patch_id`` range at a time. The ranges split the patches of
``caption_requests`` (every request's patch, a revision's too, has one Task 1/2 request) into
runs of ``window`` patches; the range filter reaches every table a source scans (the
``revision_requests`` view matches ``patch_id`` in each of its joins) and the request's history
in ``captions``. ``caption_requests`` is stored in ``patch_id`` order and a run writes captions
in that order, so a range reads a few row groups: a chunk costs the same at 1,000 requests or
1,000,000 and the first is ready at once; only ``count`` (the progress total) passes over a
whole phase, and it reads no payloads.

The runner sorts each chunk by prompt text, so requests sharing instructions and examples reach
the server together. ``where`` (SQL over ``request_id, patch_id, task, prompt_name, payload``)
narrows a run to part of the warehouse, e.g. one partition; ``attempted_only`` to the requests
tried before (what a fall-back back end takes over).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

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

    def _check_sources(self, con) -> None:
        names = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' UNION ALL "
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'").fetchall()}
        for source in self.sources:
            if source not in names:
                raise CaptionError(
                    f"no {source} in {self.store.path}: run `rsteller-db build` first"
                )

    # -- reads -----------------------------------------------------------------------------
    def count(self) -> int:
        """How many requests are pending now (one pass over the requests and the captions)."""
        union = " UNION ALL ".join(self._requests(s) for s in self.sources)
        sql = (f"WITH requests AS ({union}), history AS ({self._history()}) "
               f"SELECT count(*) FROM ({self._SELECT} WHERE {self._PENDING})")
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            self._check_sources(con)
            return self._run(con, sql, self._params()).fetchone()[0]

    def chunks(self, window: int, limit: int | None = None) -> Iterator[list[PendingRequest]]:
        """Lists of at most ``window`` pending requests, ``limit`` in all; the file is held
        only while a chunk is read."""
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            self._check_sources(con)
            starts = [r[0] for r in con.execute(
                "SELECT patch_id FROM (SELECT patch_id, row_number() OVER (ORDER BY patch_id) - 1"
                " AS i FROM (SELECT DISTINCT patch_id FROM caption_requests)) "
                "WHERE i % $n = 0 ORDER BY patch_id", {"n": int(window)}).fetchall()]
            end = con.execute("SELECT max(patch_id) + 1 FROM caption_requests").fetchone()[0]
        ranges = list(zip(starts, [*starts[1:], end], strict=True)) if starts else []
        left = limit
        for source in self.sources:
            for rows in self._by_patch_range(source, ranges, window):
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

    def _by_patch_range(self, source: str, ranges: list[tuple[int, int]], window: int
                        ) -> Iterator[list[tuple]]:
        scope = " AND patch_id >= $lo AND patch_id < $hi"
        sql = (
            f"WITH requests AS ({self._requests(source, scope)}), "
            f"history AS ({self._history(scope)}) {self._SELECT} WHERE {self._PENDING}"
        )
        for lo, hi in ranges:
            with self.store.connect(self.lock_wait_s, read_only=True) as con:
                rows = self._run(con, sql, self._params(lo=lo, hi=hi)).fetchall()
            for at in range(0, len(rows), window):  # a patch may have several requests
                yield rows[at:at + window]
