"""Spatial from the wheel: its signature checked once per process, unsigned files refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from rsteller_db import warehouse
from rsteller_db.warehouse import Warehouse, spatial_connect


def _tampered_copy(folder: Path) -> Path:
    """The installed spatial file under another name, its last signature byte flipped."""
    with duckdb.connect() as con:
        installed = warehouse._installed_spatial(con)
    copy = folder / "tampered.duckdb_extension"
    shutil.copy(installed, copy)
    with copy.open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)[0]
        f.seek(-1, 2)
        f.write(bytes([last ^ 0xFF]))
    return copy


def test_a_query_cannot_load_an_unsigned_file_through_a_warehouse_connection(tmp_path: Path):
    copy = _tampered_copy(tmp_path)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert wh.con.execute("SELECT ST_Area(ST_GeomFromText('POLYGON((0 0,2 0,2 1,0 1,0 0))'))"
                              ).fetchone()[0] == 2.0
        assert wh.con.execute("SELECT current_setting('allow_unsigned_extensions')"
                              ).fetchone()[0] is False
        with pytest.raises(duckdb.IOException, match="signature is either missing or invalid"):
            wh.con.execute(f"LOAD '{copy}'")


def test_the_signature_is_checked_once_and_again_when_the_installed_file_changes(
    tmp_path: Path, monkeypatch
):
    checks = []
    real = warehouse._installed_spatial
    monkeypatch.setattr(warehouse, "_installed_spatial", lambda con: checks.append(1) or real(con))
    warehouse._checked.clear()
    spatial_connect().close()
    ((path, stamp),) = warehouse._checked.items()
    assert stamp == warehouse._stamp(path) and stamp is not None and len(checks) == 1
    spatial_connect(tmp_path / "a.duckdb").close()
    assert len(checks) == 1  # the same file: not checked again
    warehouse._checked[path] = (0, 0, 0, 0)  # as if the installed file had been replaced
    spatial_connect(tmp_path / "b.duckdb").close()
    assert len(checks) == 2 and warehouse._checked == {path: stamp}


def test_two_connections_to_one_file_share_it(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute("CREATE TABLE t AS SELECT ST_Point(1, 2) AS g")
        wh.con.execute("CHECKPOINT")
        other = spatial_connect(tmp_path / "w.duckdb", config=wh.engine_config())
        try:
            assert other.execute("SELECT ST_X(g) FROM t").fetchone()[0] == 1.0
        finally:
            other.close()
