"""Shared fixtures: a fresh warehouse file, a CLI runner, and, built once per test run, the
generated sample town and the warehouse the real pipeline makes of it (tests/sample_world.py),
and the caption tests' world of one request per patch (tests/caption_world.py).

``just test`` runs the suite on pytest-xdist's workers (``-n auto --dist loadfile``: a test
file stays on one worker, so its module fixtures are built once). The run-wide fixtures are
built by whichever worker asks first, under a lock, and read by the others (``built_once``)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from caption_world import World, build_world, write_prompts
from click.testing import CliRunner
from sample_world import build_sample_warehouse, copy_warehouse

from rsteller_db.settings import load_settings
from rsteller_db.warehouse import Warehouse

T = TypeVar("T")


def built_once(tmp_path_factory, name: str, build: Callable[[Path], T]) -> T:
    """``build(folder)``, once per test run. Without xdist it is an ordinary session fixture;
    on xdist's workers the first to ask builds in the run's common temp folder, holding a
    lock, and pickles the result beside it; the others wait for the lock and unpickle."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent
    folder, result = root / name, root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result.exists():
            return pickle.loads(result.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)  # what a worker that failed left
        folder.mkdir()
        value = build(folder)
        result.write_bytes(pickle.dumps(value))
        return value


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

    return built_once(tmp_path_factory, "sample", lambda folder: generate_sample(folder, seed=0))


@pytest.fixture(scope="session")
def sample_warehouse(sample_files, tmp_path_factory) -> Path:
    """The sample through the real pipeline (init, ingest, build, captions, images), built
    once; shared, so open it ``read_only=True``: use ``sample_copy`` to change anything."""
    return built_once(tmp_path_factory, "sample_wh",
                      lambda folder: build_sample_warehouse(sample_files, folder / "wh"))


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
    return built_once(tmp_path_factory, "caption_world", lambda folder: build_world(
        folder, CAPTION_WORLD_FEATURES, injection_every=CAPTION_WORLD_INJECTION_EVERY))


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
