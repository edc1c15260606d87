"""Shared fixtures: a fresh warehouse file, a CLI runner, the generated sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "rsteller.duckdb"


@pytest.fixture
def warehouse(warehouse_path: Path):
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with Warehouse(warehouse_path, settings=load_settings()) as wh:
        yield wh


@pytest.fixture
def cli(monkeypatch, tmp_path: Path):
    """Invoke ``rsteller-db`` in-process; no settings file or warehouse from the environment."""
    from rsteller_db.cli import main

    monkeypatch.delenv("RSTELLER_WAREHOUSE", raising=False)
    monkeypatch.delenv("RSTELLER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke
