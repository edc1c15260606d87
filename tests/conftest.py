"""Shared fixtures: a fresh warehouse file, a CLI runner, and, built once per session, the
generated sample town and the warehouse the real pipeline makes of it (tests/sample_world.py),
and the caption tests' world of one request per patch (tests/caption_world.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from caption_world import World, build_world, write_prompts
from click.testing import CliRunner
from sample_world import build_sample_warehouse, copy_warehouse

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


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory):
    """The bundled sample town (PBF + GeoTIFF, seed 0), generated once; do not modify it."""
    from rsteller_db.sample import generate_sample

    return generate_sample(tmp_path_factory.mktemp("sample"), seed=0)


@pytest.fixture(scope="session")
def sample_warehouse(sample_files, tmp_path_factory) -> Path:
    """The sample through the real pipeline (init, ingest, build, captions, images), built
    once; shared, so open it ``read_only=True``: use ``sample_copy`` to change anything."""
    return build_sample_warehouse(sample_files, tmp_path_factory.mktemp("sample_wh") / "wh")


@pytest.fixture
def sample_copy(sample_warehouse, tmp_path) -> Path:
    """A private copy of ``sample_warehouse`` (file and images), free to change."""
    return copy_warehouse(sample_warehouse, tmp_path)


CAPTION_WORLD_FEATURES = 240  # enough for the concurrency and resume tests' batches
CAPTION_WORLD_INJECTION_EVERY = 40  # 6 features named with a prompt injection


@pytest.fixture(scope="session")
def caption_world(tmp_path_factory) -> World:
    """A world of 240 generated features, one per patch, built up to its caption requests
    (no captions yet); shared, so read it only: use ``caption_copy`` to caption."""
    return build_world(tmp_path_factory.mktemp("caption_world"), CAPTION_WORLD_FEATURES,
                       injection_every=CAPTION_WORLD_INJECTION_EVERY)


@pytest.fixture
def caption_copy(caption_world, tmp_path) -> Path:
    """A private copy of ``caption_world``'s warehouse, free to caption."""
    return caption_world.copy(tmp_path / "wh")


@pytest.fixture(scope="session")
def test_prompts(tmp_path_factory) -> Path:
    """The tests' short Task 1/2 templates and prompts/' Task 3 ones; do not modify."""
    return write_prompts(tmp_path_factory.mktemp("prompts"))


@pytest.fixture
def local_ray():
    """Ray on this machine (``num_cpus=2``), shut down after the test. Ray gives its raylet a
    fixed 30 s to register; on a machine loaded by other work that can pass, so the start is
    tried three times before the test fails."""
    ray = pytest.importorskip("ray")
    import tenacity

    def start() -> None:
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        except Exception:
            ray.shutdown()
            raise

    tenacity.Retrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(5),
                      reraise=True)(start)
    try:
        yield ray
    finally:
        ray.shutdown()
