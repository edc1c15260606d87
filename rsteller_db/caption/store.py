"""The warehouse side of a caption run: what is pending, and batched, short-lived writes.

DuckDB lets one process write a file. A caption run holds the file only while it commits a
batch (open, one transaction, close, with brief retries while another process holds it), so
``rsteller-db query`` works from another terminal during a run that takes hours.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import RstellerError, WarehouseError
from ..settings import Settings
from ..warehouse import Warehouse, load_spatial

CAPTION_COLUMNS = (
    "caption_id",
    "request_id",
    "patch_id",
    "task",
    "attempt",
    "text",
    "annotator",
    "backend",
    "prompt_name",
    "prompt_hash",
    "sampling",
    "status",
    "reject_reason",
    "tokens_in",
    "tokens_out",
    "latency_s",
    "run_id",
    "created_at",
)
_ARROW = pa.schema(
    [
        ("caption_id", pa.string()),
        ("request_id", pa.string()),
        ("patch_id", pa.int64()),
        ("task", pa.int32()),
        ("attempt", pa.int32()),
        ("text", pa.string()),
        ("annotator", pa.string()),
        ("backend", pa.string()),
        ("prompt_name", pa.string()),
        ("prompt_hash", pa.string()),
        ("sampling", pa.string()),
        ("status", pa.string()),
        ("reject_reason", pa.string()),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("latency_s", pa.float64()),
        ("run_id", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)
SOURCES = {1: "caption_requests", 2: "caption_requests", 3: "revision_requests"}


class CaptionError(RstellerError):
    """A caption run cannot start or cannot store its results."""


class LockBusy(CaptionError):
    """Another process held the warehouse for longer than the run was willing to wait."""


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    patch_id: int
    task: int
    prompt_name: str
    payload: dict
    attempt: int  # the attempt number this run will write
    rejected_before: int  # rejected attempts already stored


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set" in text)


class CaptionStore:
    def __init__(self, path: Path, settings: Settings):
        self.path = Path(path)
        self.settings = settings

    # -- connections ---------------------------------------------------------------------
    def _retry(self, open_fn, wait_s: float):
        deadline = time.monotonic() + wait_s
        pause = 0.05
        while True:
            try:
                return open_fn()
            except (duckdb.Error, WarehouseError) as exc:
                if not _is_lock_error(exc) and "locked by another process" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"the warehouse {self.path} stayed locked by another process for "
                        f"{wait_s:g} s: let that process finish, then re-run the same caption "
                        "command (it resumes where it stopped)"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def bootstrap(self, wait_s: float = 30.0) -> None:
        """One full writable open: creates the caption tables and records the settings."""
        self._retry(
            lambda: Warehouse(self.path, settings=self.settings, create=False), wait_s
        ).close()

    @contextmanager
    def writer(self, wait_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """A bare connection for one commit: no bootstrap, spatial only if the file needs it."""

        def connect():
            con = duckdb.connect(str(self.path))
            try:
                con.execute("SELECT 1 FROM captions LIMIT 0")
            except duckdb.Error:
                load_spatial(con)
            return con

        con = self._retry(connect, wait_s)
        try:
            yield con
        finally:
            con.close()

    # -- reads ---------------------------------------------------------------------------
    def pending(
        self,
        con: duckdb.DuckDBPyConnection,
        tasks: tuple[int, ...],
        retry_rejected: int,
        limit: int | None,
        attempted_only: bool = False,
    ) -> list[PendingRequest]:
        """Requests with no accepted caption whose last try failed, never ran, or was rejected
        at most ``retry_rejected`` times; ordered by prompt so shared prefixes travel together.
        ``attempted_only``: only requests tried before (what a fall-back back end takes over)."""
        sources = sorted({SOURCES[t] for t in tasks})
        known = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                "UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
            ).fetchall()
        }
        for source in sources:
            if source not in known:
                raise CaptionError(f"no {source} in {self.path}: run `rsteller-db build` first")
        task_list = ", ".join(str(int(t)) for t in tasks)
        union = " UNION ALL ".join(
            f"SELECT request_id, patch_id, task, prompt_name, payload::VARCHAR AS payload FROM {s} "
            f"WHERE task IN ({task_list})"
            for s in sources
        )
        sql = f"""
            WITH requests AS ({union}),
            history AS (
                SELECT request_id,
                       count(*) FILTER (WHERE status = 'accepted') AS accepted,
                       count(*) FILTER (WHERE status = 'rejected') AS rejected,
                       max(attempt) AS last_attempt,
                       arg_max(status, attempt) AS last_status
                FROM captions GROUP BY request_id
            )
            SELECT r.request_id, r.patch_id, r.task, r.prompt_name, r.payload,
                   coalesce(h.last_attempt, 0) + 1, coalesce(h.rejected, 0)
            FROM requests r LEFT JOIN history h USING (request_id)
            WHERE coalesce(h.accepted, 0) = 0
              AND (h.request_id IS NULL OR h.last_status = 'failed' OR h.rejected <= ?)
              AND (NOT ? OR h.request_id IS NOT NULL)
            ORDER BY r.prompt_name, r.request_id
            {"LIMIT " + str(int(limit)) if limit is not None else ""}
        """
        rows = con.execute(sql, [retry_rejected, attempted_only]).fetchall()
        return [PendingRequest(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    # -- writes --------------------------------------------------------------------------
    def begin_run(self, run: dict, wait_s: float = 30.0) -> None:
        """Record a new run; first mark 'killed' the runs of this host still 'running' whose
        process is gone (SIGKILL, a crash, a power cut), so they do not look alive forever."""
        columns = ", ".join(run)
        marks = ", ".join("?" for _ in run)
        with self.writer(wait_s) as con:
            stale = [
                run_id
                for run_id, pid in con.execute(
                    "SELECT run_id, pid FROM _meta.caption_runs "
                    "WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
                    [run.get("host")],
                ).fetchall()
                if not _alive(pid)
            ]
            con.execute("BEGIN")
            try:
                if stale:
                    con.execute(
                        "UPDATE _meta.caption_runs SET status = 'killed' "
                        "WHERE list_contains(?, run_id)", [stale])
                con.execute(
                    f"INSERT INTO _meta.caption_runs ({columns}) VALUES ({marks})",
                    list(run.values()),
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise CaptionError(f"cannot record the caption run in {self.path}: {exc}") from exc

    def write(self, rows: list[dict], run_id: str, summary: dict, wait_s: float) -> None:
        """Insert caption rows and update the run's counters in one transaction.

        A row whose caption id exists, or whose request already has an accepted caption (a
        second run racing this one), is skipped: a request never gets two captions."""
        table = pa.Table.from_pylist(rows, schema=_ARROW)
        columns = ", ".join(CAPTION_COLUMNS)
        sets = ", ".join(f"{k} = ?" for k in summary)
        with self.writer(wait_s) as con:
            con.register("caption_batch", table)
            con.execute("BEGIN")
            try:
                con.execute(
                    f"INSERT OR IGNORE INTO captions ({columns}) "
                    f"SELECT {columns} FROM caption_batch b "
                    "WHERE NOT EXISTS (SELECT 1 FROM captions c WHERE c.request_id = b.request_id "
                    "AND c.status = 'accepted')"
                )
                con.execute(
                    f"UPDATE _meta.caption_runs SET {sets} WHERE run_id = ?",
                    [*summary.values(), run_id],
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise CaptionError(f"cannot store captions in {self.path}: {exc}") from exc


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (a reused PID counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
