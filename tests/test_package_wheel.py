"""A real package: the wheel carries everything read at run time (SQL stages, seeds, rules,
prompts, templates). Built here, installed into a new virtual environment, and run through the
whole pipeline from a folder outside the clone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (found,) = out.glob("rsteller_db-*.whl")
    return found


def test_wheel_holds_the_run_time_files(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("sql", "prompts"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                packed = f"rsteller_db/_data/{path.relative_to(ROOT).as_posix()}"
                assert packed in names, f"{packed} is missing from the wheel"
    for path in (ROOT / "rsteller_db").rglob("*"):
        read_at_run_time = path.suffix in (".py", ".j2", ".md")  # code, templates, card notes
        if path.is_file() and read_at_run_time and "__pycache__" not in path.parts:
            assert path.relative_to(ROOT).as_posix() in names


def test_installed_wheel_runs_the_pipeline_outside_the_clone(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(subprocess.run([str(python), "-c", ask], check=True, capture_output=True,
                                  text=True).stdout.strip())
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, capture_output=True,
    )
    # the dependencies come from this environment's site-packages (added after the venv's own,
    # as a plain path: the clone's editable .pth there is not processed, so only the wheel's
    # rsteller_db can be imported)
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RSTELLER_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    where = json.loads(_run([str(python), "-c", (
        "import json, rsteller_db, rsteller_db.paths as p; print(json.dumps("
        "[rsteller_db.__file__, str(p.SQL_DIR), str(p.PROMPTS_DIR)]))")], work, env))
    for path in where:
        assert Path(path).is_relative_to(venv), f"{path} is not inside the new environment"
        assert not Path(path).is_relative_to(ROOT)

    cli = [str(venv / "bin" / "rsteller-db"), "--quiet"]
    for args in (
        ["sample", "--out", "s", "--size-m", "1200"],  # a small town: every stage still runs
        ["init"],
        ["ingest", "osm", "s/town.osm.pbf"],
        ["ingest", "naip", "--source", "local", "s"],
        ["build"],
        ["caption", "--backend", "template"],
        ["images", "fetch"],
        ["export", "--format", "wds", "--out", "e"],
        ["export", "verify", "e"],
    ):
        _run(cli + args, work, env)
    assert sorted(p.name for p in (work / "e").glob("*.tar"))
    manifest = json.loads((work / "e" / "manifest.json").read_text())
    assert manifest
    assert (work / "warehouse" / "rsteller.duckdb").is_file()
