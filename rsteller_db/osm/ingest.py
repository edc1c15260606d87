"""Ingest of ``.osm.pbf`` files into ``raw.osm_elements`` (full-history extracts into
``raw.osm_history``, see history.py), with source bookkeeping.

One file is one source (``_meta.sources``, kind ``osm``): its name, size, SHA-256, the
replication timestamp from its header (``snapshot_at``) and the header itself. The same
bytes ingested again change nothing; a different file under a name already ingested is
refused unless ``replace=True``, which swaps the old rows for the new ones. Every write of
one ingest happens in one transaction, so a failure leaves the warehouse as it was.

DuckDB spatial's ``ST_ReadOSM`` does the reading (multithreaded, streaming); the insert
spills to the warehouse file and its temp folder, so a PBF larger than memory ingests
within the memory limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import InputError
from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .history import is_history, load_history
from .pbf import PbfHeader, read_pbf_header


@dataclass
class OsmSource:
    """The outcome of one ingest: ``status`` is ``ingested``, ``replaced`` or ``unchanged``."""

    source_id: int
    name: str
    path: Path
    size_bytes: int
    sha256: str
    status: str
    counts: dict[str, int]
    header: PbfHeader | None = None
    replaced_source_id: int | None = None

    @property
    def snapshot_at(self):
        return self.header.replication_timestamp if self.header else None


class _Counted:
    """A binary file whose reads advance a progress bar (for ``hashlib.file_digest``)."""

    def __init__(self, fh, advance):
        self.fh, self.advance = fh, advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        self.advance(n or 0)
        return n


def file_sha256(path: Path, reporter: Reporter = QUIET) -> str:
    size = path.stat().st_size
    with reporter.bar(f"hashing {path.name}", total=size) as bar, path.open("rb") as fh:
        return hashlib.file_digest(_Counted(fh, bar.advance), "sha256").hexdigest()


def _existing(wh: Warehouse, sha256: str, name: str) -> tuple[tuple | None, tuple | None]:
    """(source with these bytes, source with this name) among the OSM sources."""
    same_bytes = wh.con.execute(
        "SELECT source_id, name, details FROM _meta.sources WHERE kind = 'osm' AND sha256 = ? "
        "ORDER BY source_id LIMIT 1", [sha256]).fetchone()
    same_name = wh.con.execute(
        "SELECT source_id, sha256 FROM _meta.sources WHERE kind = 'osm' AND name = ? "
        "ORDER BY source_id DESC LIMIT 1", [name]).fetchone()
    return same_bytes, same_name


class _QueryProgress(threading.Thread):
    """Moves a 0-100 bar with DuckDB's own progress of the query running on ``con``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, bar):
        super().__init__(daemon=True)
        self.con, self.bar, self.shown = con, bar, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            try:
                pct = int(self.con.query_progress())
            except (duckdb.Error, TypeError, ValueError):
                continue
            if pct > self.shown:
                self.bar.advance(pct - self.shown)
                self.shown = pct

    def __enter__(self) -> _QueryProgress:
        # progress is tracked (for query_progress) but not printed by DuckDB; the connection's
        # own choice (off under --quiet) comes back on exit
        self.saved = self.con.execute(
            "SELECT current_setting('enable_progress_bar'), "
            "current_setting('enable_progress_bar_print')").fetchone()
        self.con.execute("SET enable_progress_bar = true")
        self.con.execute("SET enable_progress_bar_print = false")
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()
        tracked, printed = self.saved
        self.con.execute(f"SET enable_progress_bar = {bool(tracked)}")
        self.con.execute(f"SET enable_progress_bar_print = {bool(printed)}")
        if exc[0] is None:
            self.bar.advance(100 - self.shown)


def _load(wh: Warehouse, path: Path, source_id: int, reporter: Reporter) -> dict[str, int]:
    sql = ("INSERT INTO raw.osm_elements "
           "SELECT ?, kind, id, tags, refs, lat, lon, ref_roles, ref_types "
           "FROM ST_ReadOSM(?) WHERE kind <> 'changeset'")
    # row order inside raw.osm_elements means nothing; not keeping it lets the threads
    # write their row groups independently (about a third less CPU on large files)
    wh.con.execute("SET preserve_insertion_order = false")
    try:
        with reporter.bar(f"reading {path.name}", total=100) as bar:
            if reporter.quiet:
                wh.con.execute(sql, [source_id, str(path)])
            else:
                with _QueryProgress(wh.con, bar):
                    wh.con.execute(sql, [source_id, str(path)])
    finally:
        wh.con.execute("RESET preserve_insertion_order")
    rows = wh.con.execute(
        "SELECT kind::VARCHAR, count(*) FROM raw.osm_elements WHERE source_id = ? GROUP BY ALL",
        [source_id]).fetchall()
    counts = {"node": 0, "way": 0, "relation": 0}
    counts.update(dict(rows))
    return counts


def _read_error(path: Path, exc: duckdb.Error) -> InputError:
    text = str(exc).splitlines()[0]
    if "Unexpected end of file" in text:
        return InputError(f"{path} is truncated ({text}): download the extract again; "
                          "the warehouse is unchanged")
    if isinstance(exc, duckdb.ParserException):
        return InputError(f"{path} is damaged ({text}): download the extract again; "
                          "the warehouse is unchanged")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return InputError(f"ran out of memory reading {path}: raise memory_limit or set "
                          "temp_directory to a folder with free space in rsteller.toml; "
                          "the warehouse is unchanged")
    return InputError(f"cannot ingest {path}: {text}; the warehouse is unchanged")


def ingest_osm(wh: Warehouse, path: str | os.PathLike, *, replace: bool = False,
               reporter: Reporter = QUIET) -> OsmSource:
    """Ingest one PBF into ``raw.osm_elements`` and record it in ``_meta.sources``.

    Raises :class:`InputError` for a missing, foreign or truncated file, and for a new
    file under a name already ingested when ``replace`` is false.
    """
    path = Path(path)
    name = path.name
    reporter.step(f"checking {path}")
    header = read_pbf_header(path)
    size = path.stat().st_size
    sha256 = file_sha256(path, reporter)
    same_bytes, same_name = _existing(wh, sha256, name)
    if same_bytes:
        details = json.loads(same_bytes[2]) if same_bytes[2] else {}
        reporter.info(f"{name} is already ingested as source {same_bytes[0]} ({same_bytes[1]}): "
                      "nothing to do")
        return OsmSource(same_bytes[0], same_bytes[1], path, size, sha256, "unchanged",
                         details.get("counts", {}), header)
    if same_name and not replace:
        raise InputError(
            f"another file named {name} is already ingested as source {same_name[0]} "
            f"(sha256 {same_name[1][:12]}...): pass --replace to swap it for this one, "
            "or rename the file if it is a different extract"
        )
    old_id = same_name[0] if same_name else None
    history = is_history(header)
    details = {"header": header.to_json(), "path": str(path.resolve()), "history": history}
    reporter.step(f"loading {name} into {'raw.osm_history' if history else 'raw.osm_elements'}"
                  + (f" (replacing source {old_id})" if old_id else ""))
    con = wh.con
    con.execute("BEGIN")
    try:
        if old_id is not None:
            con.execute("DELETE FROM raw.osm_elements WHERE source_id = ?", [old_id])
            con.execute("DELETE FROM raw.osm_history WHERE source_id = ?", [old_id])
            con.execute("DELETE FROM _meta.sources WHERE source_id = ?", [old_id])
        source_id = con.execute(
            "INSERT INTO _meta.sources (kind, name, uri, size_bytes, sha256, snapshot_at, details) "
            "VALUES ('osm', ?, ?, ?, ?, ?, ?) RETURNING source_id",
            [name, path.resolve().as_uri(), size, sha256, header.replication_timestamp,
             json.dumps(details)],
        ).fetchone()[0]
        if history:  # every version, with pyosmium (ST_ReadOSM keeps no versions)
            counts = load_history(wh, path, source_id, reporter)
        else:
            counts = _load(wh, path, source_id, reporter)
        details["counts"] = counts
        con.execute("UPDATE _meta.sources SET details = ? WHERE source_id = ?",
                    [json.dumps(details), source_id])
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise _read_error(path, exc) from exc
        raise
    status = "replaced" if old_id is not None else "ingested"
    reporter.info(f"{name}: {counts['node']:,} nodes, {counts['way']:,} ways, "
                  f"{counts['relation']:,} relations as source {source_id}; "
                  "run `rsteller-db build` to rebuild the staging tables")
    return OsmSource(source_id, name, path, size, sha256, status, counts, header, old_id)
