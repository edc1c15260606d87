"""Helper processes for ``export --workers N``: they write shards beside the exporting process.

``ExportHelpers`` spawns N - 1 processes (a fork of the DuckDB process is unsafe) before the
warehouse opens, so that they import while it opens and runs the export query. A helper
imports neither DuckDB nor the stage runner (``rsteller_db`` imports its names on first use).

How a shard travels. The exporter writes the shard's rows as an Arrow IPC file into a private
temporary folder (about a millisecond for 500 rows) and sends the helper a message of a few
kilobytes naming it. The helper claims the file by renaming it, maps it (no copy), writes the
shard's files and hashes them, and sends back the closed files and the shard's stats; the
exporter's finisher thread only syncs and renames them. The rows do not go through the pipe:
0.6 MB through a 64 kB pipe is ten hand-overs of the GIL between the thread that feeds the
pipe and the exporter's thread, which holds it while it writes a shard itself, and the helper
sat idle 0.1 s between two shards waiting for them.

Each helper holds at most two shards, the one it writes and the next, so it never waits for
the exporter. When the exporter has written its own last shard it takes back the shards that
no helper has started (whoever removes the file first has it: the helper by renaming it, the
exporter by deleting it) and writes them itself, so the export does not end waiting for one
helper's queue.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import pyarrow as pa

from .outdir import shard_stem
from .shards import ShardJob, WrittenShard, write_shard_files
from .writers import ExportError

QUEUED = 2  # shards a helper holds: the one it writes and the next
STAGED = ".arrow"  # a shard's rows, waiting for a helper
CLAIMED = ".claimed"  # ... and claimed by one
JOIN_S = 10.0  # how long a stopped helper may take to exit before it is terminated


def _warm_up() -> None:
    """What a helper's first shard would otherwise import."""
    import pyarrow.parquet  # noqa: F401
    from PIL import JpegImagePlugin  # noqa: F401


def _serve(conn: Connection) -> None:
    """A helper's loop: write the shard each message names, send back its files and stats."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the exporter, which stops us
    _warm_up()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the exporter is gone
            return
        if message is None:
            return
        conn.send(_write_staged(*message))


def _write_staged(job: ShardJob, staged: str) -> tuple[str, object]:
    claimed = staged + CLAIMED
    try:
        os.rename(staged, claimed)
    except FileNotFoundError:  # the exporter took the shard back
        return "withdrawn", None
    try:
        table = pa.ipc.open_file(pa.memory_map(claimed)).read_all()
        os.unlink(claimed)  # the mapping stays readable
        return "written", write_shard_files(replace(job, table=table)).hand_over()
    except BaseException as exc:  # raised again in the exporter
        return "failed", _portable(exc)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an ExportError that says what it was."""
    try:
        pickle.dumps(exc)
    except Exception:
        return ExportError(f"an export helper failed: {type(exc).__name__}: {exc}")
    return exc


@contextmanager
def _main_not_inherited() -> Iterator[None]:
    """Processes spawned inside this block do not re-import the program's ``__main__``.

    A spawned child runs the parent's main script (or module) again before its first task; for
    ``rsteller-db`` that is the whole CLI, a third of a helper's start-up. Helpers only run
    functions of this package, so they do not need it: multiprocessing skips the step for a
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


@dataclass
class _Sent:
    job: ShardJob  # with its rows: the exporter writes it if it takes it back
    staged: Path
    withdrawn: bool = False


@dataclass
class _Helper:
    process: BaseProcess
    conn: Connection
    sent: deque[_Sent] = field(default_factory=deque)  # not yet answered, in order

    @property
    def holds(self) -> int:
        return sum(not s.withdrawn for s in self.sent)


class ExportHelpers:
    """Helper processes that write shards while the exporting process writes others.

    ``count`` processes (``ExportOptions.workers`` - 1; 0 starts none) are spawned at once;
    start them before opening the warehouse and they import while it opens and runs the
    export query (the CLI does)::

        with ExportHelpers.for_options(options) as helpers, Warehouse(path, read_only=True) as wh:
            export_dataset(wh, out, options, helpers=helpers)

    A shard goes to a helper while one holds fewer than ``QUEUED``, else the exporting process
    writes it itself: the work balances with no tuning, and at most ``QUEUED`` shard tables
    per helper are in hand (flat memory). Helpers write and hash; their files come back closed
    and the exporter's finisher thread syncs and renames them with its own.
    """

    def __init__(self, count: int):
        self.count = count
        self._helpers: list[_Helper] = []
        self._folder: Path | None = None
        if not count:
            return
        self._folder = Path(tempfile.mkdtemp(prefix="rsteller-export-"))
        context = multiprocessing.get_context("spawn")
        with _main_not_inherited():
            for _ in range(count):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs,), daemon=True,
                                          name="rsteller-export-helper")
                process.start()
                theirs.close()
                self._helpers.append(_Helper(process, ours))

    @classmethod
    def for_options(cls, options) -> ExportHelpers:
        return cls(max(0, options.workers - 1) if options.executor == "local" else 0)

    def __enter__(self) -> ExportHelpers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has_room(self) -> bool:
        return any(helper.holds < QUEUED for helper in self._helpers)

    def submit(self, job: ShardJob) -> None:
        """Send ``job`` to the helper that holds the fewest shards (see :meth:`has_room`)."""
        helper = min(self._helpers, key=lambda h: h.holds)
        staged = self._folder / f"{shard_stem(job.split, job.index)}{STAGED}"
        with pa.OSFile(str(staged), "wb") as sink, \
                pa.ipc.new_file(sink, job.table.schema) as writer:
            writer.write_table(job.table)
        helper.sent.append(_Sent(job, staged))
        helper.conn.send((job.without_rows(), str(staged)))

    def take_back(self) -> ShardJob | None:
        """A shard sent to a helper that none has started, now the caller's to write (the
        last sent first); None when the helpers have started every shard they hold."""
        waiting = [s for h in self._helpers for s in h.sent if not s.withdrawn]
        for sent in sorted(waiting, key=lambda s: s.job.index, reverse=True):
            try:
                os.unlink(sent.staged)
            except FileNotFoundError:  # claimed: its helper is writing it
                continue
            sent.withdrawn = True
            return sent.job
        return None

    def collect(self, block: bool = False) -> list[tuple[WrittenShard, int]]:
        """Shards the helpers have written (all they hold when ``block``), with their rows; a
        helper's error is raised here."""
        done = []
        for helper in self._helpers:
            while helper.sent and (block or helper.conn.poll()):
                sent = helper.sent[0]
                status, value = self._answer(helper, sent)
                helper.sent.popleft()
                if status == "failed":
                    raise value
                if status == "written":
                    done.append((value, sent.job.table.num_rows))
        return sorted(done, key=lambda item: item[0].job.index)

    def _answer(self, helper: _Helper, sent: _Sent) -> tuple[str, object]:
        try:
            return helper.conn.recv()
        except (EOFError, OSError):
            helper.process.join(JOIN_S)
            stem = shard_stem(sent.job.split, sent.job.index)
            raise ExportError(
                f"an export helper process stopped (exit code {helper.process.exitcode}) "
                f"while writing shard {stem}: finished shards are kept; re-run the same "
                "command to write the rest") from None

    def stop(self) -> None:
        """No more shards: the helpers exit while the exporter commits and writes the
        manifest (``close`` waits for them)."""
        for helper in self._helpers:
            if not helper.sent:
                _tell(helper.conn, None)

    def close(self) -> None:
        """Stop the helpers; shards written but never to be committed leave no file behind."""
        if not self._helpers:
            return
        try:
            while self.take_back() is not None:  # not started: not written at all
                pass
            for helper in self._helpers:
                while helper.sent:
                    try:
                        status, value = helper.conn.recv()
                    except (EOFError, OSError):
                        break
                    helper.sent.popleft()
                    if status == "written":
                        value.abort()
                _tell(helper.conn, None)
                helper.conn.close()
            for helper in self._helpers:
                helper.process.join(JOIN_S)
                if helper.process.is_alive():
                    helper.process.terminate()
                    helper.process.join()
        finally:
            self._helpers = []
            shutil.rmtree(self._folder, ignore_errors=True)


def _tell(conn: Connection, message) -> None:
    try:
        conn.send(message)
    except OSError:  # the helper is gone already
        pass
