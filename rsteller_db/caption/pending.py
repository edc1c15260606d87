"""Pending caption requests, read from the warehouse in bounded chunks.

A request is pending when it has no accepted caption and its last attempt failed, it was never
asked, or it was rejected at most ``retry_rejected`` times. A phase never loads all of them:
``PendingRequests.chunks`` walks the request relation in ``(patch_id, request_id)`` order with a
keyset cursor, ``window`` rows per short read-only open, and keeps the pending ones; memory is
bounded by the window whatever the number of requests. The runner sorts each chunk by prompt
text, so requests sharing instructions and examples reach the server together.

``where`` (SQL over ``request_id, patch_id, task, prompt_name, payload``) narrows a run to part
of the warehouse, e.g. one partition; ``attempted_only`` to the requests tried before (what a
fall-back back end takes over).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from .store import CaptionError, CaptionStore

SOURCES = {1: "caption_requests", 2: "caption_requests", 3: "revision_requests"}
_FIRST = (-(2**63), "")  # before every (patch_id, request_id)


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
        task_list = ", ".join(str(int(t)) for t in tasks)
        self._sources = sorted({SOURCES[t] for t in tasks})
        self._requests = " UNION ALL ".join(
            f"SELECT request_id, patch_id, task, prompt_name, payload FROM {s} "
            f"WHERE task IN ({task_list})"
            for s in self._sources
        )
        self._filter = f" AND ({where})" if where else ""
        self._tasks = task_list

    def _check_sources(self, con) -> None:
        known = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                "UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
            ).fetchall()
        }
        for source in self._sources:
            if source not in known:
                raise CaptionError(
                    f"no {source} in {self.store.path}: run `rsteller-db build` first"
                )

    def _history(self, scope: str) -> str:
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

    def count(self) -> int:
        """How many requests are pending now (one read of the whole relation)."""
        sql = f"""
            WITH requests AS ({self._requests}), history AS ({self._history("")})
            SELECT count(*) FROM requests r LEFT JOIN history h USING (request_id)
            WHERE {self._PENDING}{self._filter}"""
        with self.store.connect(self.lock_wait_s, read_only=True) as con:
            self._check_sources(con)
            return self._run(con, sql, self._params()).fetchone()[0]

    def chunks(self, window: int, limit: int | None = None) -> Iterator[list[PendingRequest]]:
        """Lists of pending requests, in (patch_id, request_id) order, from reads of ``window``
        requests each; at most ``limit`` requests in all. The file is held only while a window
        is read."""
        sql = f"""
            WITH requests AS ({self._requests}),
            candidates AS (
                SELECT * FROM requests
                WHERE patch_id >= $patch AND NOT (patch_id = $patch AND request_id <= $request)
                      {self._filter}
                ORDER BY patch_id, request_id LIMIT $window
            ),
            history AS ({self._history(" AND request_id IN (SELECT request_id FROM candidates)")})
            SELECT c.request_id, c.patch_id, c.task, c.prompt_name, c.payload::VARCHAR,
                   coalesce(h.last_attempt, 0) + 1, coalesce(h.rejected, 0), {self._PENDING}
            FROM candidates c LEFT JOIN history h USING (request_id)
            ORDER BY c.patch_id, c.request_id"""
        after, left = _FIRST, limit
        while left is None or left > 0:
            params = {"patch": after[0], "request": after[1], "window": window,
                      **self._params()}
            with self.store.connect(self.lock_wait_s, read_only=True) as con:
                rows = self._run(con, sql, params).fetchall()
            if not rows:
                return
            after = (rows[-1][1], rows[-1][0])
            chunk = [
                PendingRequest(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
                for r in rows
                if r[7]
            ][: left if left is not None else None]
            if chunk:
                yield chunk
                left = None if left is None else left - len(chunk)
            if len(rows) < window:
                return

    def _params(self) -> dict:
        return {"retry": self.retry_rejected, "attempted": self.attempted_only}

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
