"""Committing results of a long run in batches, holding the warehouse only while writing.

DuckDB lets one process hold a file writable, and a writer locks out every other process, even
readers. A long run (image fetch, LLM captions) therefore keeps no connection open: it buffers
result rows and, every ``batch_rows`` rows or ``max_wait_s`` seconds, opens the file, upserts
the batch in one transaction and closes it again. Between commits, ``rsteller-db query`` and
other commands can open the warehouse. If another process holds the lock at commit time, the
commit waits and retries for up to ``lock_timeout_s`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from ..errors import WarehouseError
from ..warehouse import wait_for_lock


class BatchCommitter:
    """Buffer rows for ``table`` and ``INSERT OR REPLACE`` them in batches (use as a context
    manager; leaving it flushes what is left)."""

    def __init__(
        self,
        path: str | Path,
        table: str,
        columns: Sequence[str],
        *,
        batch_rows: int = 256,
        max_wait_s: float = 5.0,
        lock_timeout_s: float = 120.0,
    ):
        self.path = Path(path)
        self.table = table
        self.columns = list(columns)
        self.batch_rows = batch_rows
        self.max_wait_s = max_wait_s
        self.lock_timeout_s = lock_timeout_s
        self.rows: list[tuple] = []
        self.committed = 0
        self.commits = 0
        self._last = time.monotonic()

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows or time.monotonic() - self._last >= self.max_wait_s:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self.rows:
            return
        import pyarrow as pa

        batch = pa.Table.from_pylist([dict(zip(self.columns, r, strict=True)) for r in self.rows])
        try:  # the project's lock-wait policy: another process may hold the file for a while
            con = wait_for_lock(lambda: duckdb.connect(str(self.path)), self.path,
                                self.lock_timeout_s)
        except (duckdb.Error, WarehouseError) as exc:
            raise WarehouseError(
                f"cannot commit to {self.path}: {str(exc).splitlines()[0]}; "
                "the results of this batch were not saved, re-run the command to redo them"
            ) from exc
        try:
            con.register("_batch", batch)
            cols = ", ".join(self.columns)
            con.execute(f"INSERT OR REPLACE INTO {self.table} ({cols}) SELECT {cols} FROM _batch")
        finally:
            con.close()
        self.committed += len(self.rows)
        self.commits += 1
        self.rows = []

    def __enter__(self) -> BatchCommitter:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()
