"""The warehouse: one DuckDB file with spatial loaded from the PyPI wheel, never the network."""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Callable
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar

import duckdb

from .errors import WarehouseError, WarehouseLocked
from .paths import data_dir, sql_folder
from .retrying import retrying
from .settings import Settings, load_settings

SPATIAL_DIST = "duckdb-extension-spatial"


@cache
def spatial_extension_file() -> Path:
    """The ``spatial.duckdb_extension`` file shipped by the ``duckdb-extension-spatial`` wheel."""
    try:
        files = importlib.metadata.files(SPATIAL_DIST) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise WarehouseError(
            f"the {SPATIAL_DIST} package is not installed: pip install '{SPATIAL_DIST}==1.5.5'"
        ) from exc
    for file in files:
        if ".duckdb_extension" in file.name:
            return Path(file.locate()).resolve()
    raise WarehouseError(f"no spatial extension file found in the {SPATIAL_DIST} package")


def _installed_spatial(con: duckdb.DuckDBPyConnection) -> Path:
    """The installed spatial file DuckDB loads, installed from the wheel's file if missing."""
    query = (
        "SELECT installed, install_path FROM duckdb_extensions() "
        "WHERE extension_name = 'spatial'"
    )
    row = con.execute(query).fetchone()
    if not (row and row[0]):
        con.execute(f"INSTALL '{spatial_extension_file()}'")
        row = con.execute(query).fetchone()
    return Path(row[1])


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    """Install spatial from the wheel's file (once per machine) and load it, into a
    connection opened elsewhere (DuckDB checks the file's signature as it loads)."""
    _installed_spatial(con)
    con.execute("LOAD spatial")


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


# The installed spatial file whose signature DuckDB checked in this process, and its stamp.
_checked: dict[Path, tuple[int, int, int, int] | None] = {}


def _check_spatial_signature() -> None:
    """Let DuckDB check the spatial file's signature once per process, in a throwaway
    database, and again whenever the installed file changes.

    DuckDB checks a signature by hashing the whole file (80 MB) on every LOAD: 0.15-0.2 s
    per database opened, most of what opening a warehouse costs (``python bench/open.py``).
    After this check, ``spatial_connect`` loads that same file without hashing it again."""
    if any(stamp is not None and _stamp(path) == stamp for path, stamp in _checked.items()):
        return
    with duckdb.connect() as con:
        path = _installed_spatial(con)
        stamp = _stamp(path)  # taken before the check: a file changed after it is checked again
        con.execute("LOAD spatial")  # raises when the signature does not hold
    _checked.clear()
    _checked[path] = stamp


def spatial_connect(
    database: str | os.PathLike = ":memory:",
    *,
    read_only: bool = False,
    config: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with spatial loaded, the file's signature checked once per process.

    Every connection gets ``allow_unsigned_extensions`` in its config (DuckDB shares one
    database between connections of the same path only when their configs agree), loads the
    checked file, then turns the setting off: a later ``LOAD`` of any other unsigned file,
    typed in a query, is refused as before."""
    _check_spatial_signature()
    con = duckdb.connect(
        str(database), read_only=read_only,
        config={**(config or {}), "allow_unsigned_extensions": "true"},
    )
    try:
        con.execute("LOAD spatial")
        con.execute("SET allow_unsigned_extensions = false")
    except BaseException:
        con.close()
        raise
    return con


def memory_limit(value: str) -> str:
    """DuckDB memory limit; a percentage is taken of this machine's physical memory."""
    if value.strip().endswith("%"):
        share = float(value.strip()[:-1]) / 100
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return f"{max(int(total * share / 2**20), 256)}MiB"
    return value


_LOCK = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")
T = TypeVar("T")

# How long a reader (query, stats, preview) waits for a warehouse another process holds.
READER_LOCK_WAIT_S = 30.0


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` says another process holds the warehouse file."""
    text = str(exc)
    return isinstance(exc, WarehouseLocked) or bool(_LOCK.search(text)) or (
        "Could not set lock" in text
    )


def lock_pid(exc: BaseException) -> int | None:
    """The PID DuckDB names as the holder of the file, if any."""
    if isinstance(exc, WarehouseLocked):
        return exc.pid
    found = _LOCK.search(str(exc))
    return int(found.group(2)) if found else None


def describe_holder(pid: int | None) -> str:
    """' (PID 123: rsteller-db caption)': who holds the file, as far as this host can tell."""
    if pid is None:
        return ""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return f" (PID {pid})"
    for i, arg in enumerate(argv):  # `python -m rsteller_db ...` or `.../bin/rsteller-db ...`
        if arg in ("rsteller_db", "rsteller-db") or arg.endswith("/rsteller-db"):
            command = " ".join(["rsteller-db", *(a for a in argv[i + 1 :] if a)])
            command = command if len(command) <= 80 else command[:79] + "…"
            return f" (PID {pid}: {command})"
    return f" (PID {pid})"


def locked_error(path: Path, pid: int | None, waited_s: float = 0.0) -> WarehouseLocked:
    who = describe_holder(pid)
    if waited_s > 0:
        text = (
            f"the warehouse {path} stayed locked by another process{who} for {waited_s:g} s: "
            "let it finish (or wait for its next pause), then run the command again"
        )
    else:
        text = (
            f"the warehouse {path} is locked by another process{who}: wait for it to finish, "
            "or work on a copy with --warehouse PATH"
        )
    return WarehouseLocked(text, pid)


def wait_for_lock(
    open_fn: Callable[[], T],
    path: str | os.PathLike,
    wait_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> T:
    """``open_fn()``, tried again while another process holds the warehouse, for ``wait_s``.

    The project's lock-wait policy (on ``retrying``): pauses from 0.05 s doubling to 0.5 s, so
    a writer that commits in short transactions, like a caption run, leaves gaps a reader gets
    into; ``on_wait`` is told once when the first try finds the file locked; when the time is
    up (at once when ``wait_s`` is 0), ``WarehouseLocked`` names the holder. Any other error is
    raised as it is."""
    told = False
    try:
        for attempt in retrying(
            deadline_s=wait_s, backoff_s=0.05, max_wait_s=0.5, retry_if=is_lock_error
        ):
            with attempt:
                try:
                    return open_fn()
                except Exception as exc:
                    if wait_s > 0 and on_wait is not None and not told and is_lock_error(exc):
                        told = True
                        on_wait(
                            f"the warehouse {path} is locked by another process"
                            f"{describe_holder(lock_pid(exc))}; waiting up to {wait_s:g} s for it"
                        )
                    raise
    except Exception as exc:
        if is_lock_error(exc):
            raise locked_error(Path(path), lock_pid(exc), wait_s) from exc
        raise
    raise AssertionError("unreachable: retrying() returns or raises")


def _open_error(path: Path, exc: duckdb.Error) -> WarehouseError:
    text = str(exc)
    if is_lock_error(exc):
        return locked_error(path, lock_pid(exc))
    if "not a valid DuckDB database" in text or "Corrupt" in text or "corrupt" in text:
        return WarehouseError(
            f"{path} is not a valid DuckDB warehouse (corrupt or another kind of file): "
            "move it away and run `rsteller-db init`, or pass --warehouse PATH"
        )
    if "Read-only file system" in text or "Permission denied" in text or "Cannot open file" in text:
        return WarehouseError(
            f"cannot write the warehouse {path}: its folder is read-only; "
            "pass --warehouse PATH in a writable folder"
        )
    return WarehouseError(f"cannot open the warehouse {path}: {text}")


class Warehouse:
    """An open warehouse. Use as a context manager; ``con`` is the DuckDB connection.

    ``read_only`` opens an existing file without taking the write lock. A writable open
    creates the file when missing (``make_folder``: its missing parent folders too), ensures
    the ``_meta``/``raw`` schemas and the raw source tables, and records the resolved settings.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        read_only: bool = False,
        settings: Settings | None = None,
        create: bool = True,
        make_folder: bool = False,
        progress_bar: bool = True,
        lock_wait_s: float = 0.0,
        on_lock_wait: Callable[[str], None] | None = None,
    ):
        self.path = Path(path)
        self.read_only = read_only
        self.progress_bar = progress_bar
        self.settings = settings or load_settings()
        folder = self.path.resolve().parent
        if make_folder and not read_only and not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise WarehouseError(
                    f"cannot create the warehouse folder {folder}: {exc.strerror}; "
                    "pass --warehouse PATH in a writable folder"
                ) from exc
        if not folder.is_dir():
            raise WarehouseError(
                f"the folder {folder} does not exist: create it (mkdir -p {folder}) "
                "or pass --warehouse PATH"
            )
        if not self.path.exists() and (read_only or not create):
            raise WarehouseError(f"no warehouse at {self.path}: run `rsteller-db init` first")
        if self.path.exists() and not self.path.is_file():
            raise WarehouseError(
                f"{self.path} is not a file: pass --warehouse PATH to a .duckdb file"
            )
        if not read_only and not self.path.exists() and not os.access(folder, os.W_OK):
            raise WarehouseError(
                f"cannot write the warehouse {self.path}: its folder is read-only; "
                "pass --warehouse PATH in a writable folder"
            )
        config = self._engine_config()
        try:
            self.con = wait_for_lock(
                lambda: spatial_connect(self.path, read_only=read_only, config=config),
                self.path,
                lock_wait_s,
                on_lock_wait,
            )
        except duckdb.Error as exc:
            raise _open_error(self.path, exc) from exc
        try:
            self._quiet_progress()
            if not read_only:
                self._bootstrap()
        except duckdb.Error as exc:
            self.con.close()
            raise _open_error(self.path, exc) from exc

    # -- setup -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return data_dir(self.path)

    def engine_config(self) -> dict[str, str]:
        """The DuckDB config of this warehouse (memory limit, threads, spill folder)."""
        return self._engine_config()

    @contextmanager
    def released(self):
        """Close the connection (and its write lock) for the block, so that other processes
        (Ray workers) can open the warehouse read-only; reopen it afterwards."""
        if not self.read_only:
            self.con.execute("CHECKPOINT")
        self.con.close()
        try:
            yield
        finally:
            self.con = spatial_connect(self.path, read_only=self.read_only,
                                       config=self._engine_config())
            self._quiet_progress()

    def _quiet_progress(self) -> None:
        if not self.progress_bar:  # DuckDB's own bar on long queries (off with --quiet)
            self.con.execute("SET enable_progress_bar = false")
            self.con.execute("SET enable_progress_bar_print = false")

    def _engine_config(self) -> dict[str, str]:
        s = self.settings
        config = {"memory_limit": memory_limit(str(s["memory_limit"]))}
        if s["threads"]:
            config["threads"] = str(s["threads"])
        if not self.read_only:
            temp = Path(s["temp_directory"]) if s["temp_directory"] else self.data_dir / "tmp"
            config["temp_directory"] = str(temp)
        return config

    def _bootstrap(self) -> None:
        for ddl in sorted(sql_folder("ddl").glob("*.sql")):  # 00_meta.sql first: the schemas
            self.con.execute(ddl.read_text())
        self.store_settings()

    def store_settings(self) -> None:
        rows = self.settings.rows()
        self.con.execute("BEGIN")
        self.con.execute("DELETE FROM _meta.settings")
        self.con.executemany(
            "INSERT INTO _meta.settings (key, value, default_value, source, description) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self.con.execute("COMMIT")

    # -- helpers -----------------------------------------------------------------------
    def relation_exists(self, name: str, schema: str = "main") -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
            "UNION ALL SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
            [schema, name, schema, name],
        ).fetchall()
        return any(r[0] for r in row)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_warehouse(path: str | os.PathLike, **kwargs) -> Warehouse:
    return Warehouse(path, **kwargs)
