"""Reading commands wait a bounded time for a warehouse another process holds; writers do not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rsteller_db.errors import WarehouseLocked
from rsteller_db.warehouse import wait_for_lock


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    """A process that holds ``path`` writable for ``seconds`` (forever when negative)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print('locked', flush=True)
            if {seconds} >= 0:
                time.sleep({seconds})
                con.close()
                print('released', flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def _release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    holder.wait(timeout=30)


def test_query_waits_for_a_writer_that_lets_go(cli, tmp_path: Path):
    assert cli("-w", "w.duckdb", "init").exit_code == 0
    holder = _hold(tmp_path / "w.duckdb", 1.5)
    try:
        t0 = time.monotonic()
        out = cli("-w", "w.duckdb", "query", "select 42 as answer", "--format", "csv")
        waited = time.monotonic() - t0
        assert holder.stdout.readline().strip() == "released"
    finally:
        _release(holder)
    assert out.exit_code == 0, out.output
    assert out.output.endswith("answer\n42\n")
    assert (
        f"warning: the warehouse w.duckdb is locked by another process (PID {holder.pid}); "
        "waiting up to 30 s for it" in " ".join(out.output.split())
    )
    assert waited >= 1.0


def test_a_reader_gives_up_after_lock_wait_and_names_the_holder(cli, tmp_path: Path):
    assert cli("-w", "w.duckdb", "init").exit_code == 0
    holder = _hold(tmp_path / "w.duckdb", -1)
    try:
        t0 = time.monotonic()
        out = cli("-w", "w.duckdb", "-q", "--lock-wait", "0.4", "stats")
        waited = time.monotonic() - t0
        write = cli("-w", "w.duckdb", "query", "--write", "select 1")
    finally:
        _release(holder)
    assert out.exit_code == 1
    assert out.output == (
        f"Error: the warehouse w.duckdb stayed locked by another process (PID {holder.pid}) "
        "for 0.4 s: let it finish (or wait for its next pause), then run the command again\n"
    )
    assert 0.4 <= waited < 5
    # a writing command does not wait: it says at once who holds the file
    assert write.exit_code == 1
    assert write.output.startswith("Error: the warehouse w.duckdb is locked by another process")


def test_wait_for_lock_passes_other_errors_through(tmp_path: Path):
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("not a lock problem")

    with pytest.raises(ValueError):
        wait_for_lock(broken, tmp_path / "w.duckdb", 5.0)
    assert calls == [1]

    def locked():
        calls.append(2)
        raise WarehouseLocked("held", 7)

    told: list[str] = []
    with pytest.raises(WarehouseLocked, match=r"stayed locked by another process \(PID 7"):
        wait_for_lock(locked, tmp_path / "w.duckdb", 0.3, told.append)
    assert len(calls) > 3 and len(told) == 1
