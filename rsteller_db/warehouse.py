"""The warehouse: one DuckDB file with spatial loaded from the PyPI wheel, never the network."""

from __future__ import annotations

import importlib.metadata
import os
import re
from functools import cache
from pathlib import Path

import duckdb

from .errors import WarehouseError
from .paths import data_dir, sql_folder
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


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    """Install spatial from the wheel's file (once per machine) and load it."""
    installed = con.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'"
    ).fetchone()
    if not (installed and installed[0]):
        con.execute(f"INSTALL '{spatial_extension_file()}'")
    con.execute("LOAD spatial")


def memory_limit(value: str) -> str:
    """DuckDB memory limit; a percentage is taken of this machine's physical memory."""
    if value.strip().endswith("%"):
        share = float(value.strip()[:-1]) / 100
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return f"{max(int(total * share / 2**20), 256)}MiB"
    return value


_LOCK = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def _open_error(path: Path, exc: duckdb.Error) -> WarehouseError:
    text = str(exc)
    lock = _LOCK.search(text)
    if lock or "Could not set lock" in text:
        who = f" (PID {lock.group(2)})" if lock else ""
        return WarehouseError(
            f"the warehouse {path} is locked by another process{who}: wait for it to finish, "
            "or work on a copy with --warehouse PATH"
        )
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
    ):
        self.path = Path(path)
        self.read_only = read_only
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
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise _open_error(self.path, exc) from exc
        try:
            if not progress_bar:  # DuckDB's own bar on long queries (off with --quiet)
                self.con.execute("SET enable_progress_bar = false")
                self.con.execute("SET enable_progress_bar_print = false")
            load_spatial(self.con)
            if not read_only:
                self._bootstrap()
        except duckdb.Error as exc:
            self.con.close()
            raise _open_error(self.path, exc) from exc

    # -- setup -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return data_dir(self.path)

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
