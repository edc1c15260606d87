"""The core CLI: init, settings, build, stages, query; exact errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import click
import pytest

from rsteller_db.cli import main


def test_init_then_query_formats(cli, tmp_path: Path):
    result = cli("-w", "w.duckdb", "init")
    assert result.exit_code == 0, result.output
    assert result.output == "warehouse ready: w.duckdb\n"
    sql = "select 1 as n, 'a,b' as s, map{'k': 'v'} as tags, ST_Point(1, 2) as geom"
    out = cli("-w", "w.duckdb", "query", sql, "--format", "csv")
    assert out.output == 'n,s,tags,geom\n1,"a,b","{""k"": ""v""}",POINT (1 2)\n'
    out = cli("-w", "w.duckdb", "query", sql, "--format", "json")
    assert json.loads(out.output) == [
        {"n": 1, "s": "a,b", "tags": {"k": "v"}, "geom": "POINT (1 2)"}
    ]
    out = cli("-w", "w.duckdb", "query", "select * from range(3) t(i)", "--format", "nl")
    assert out.output == '{"i": 0}\n{"i": 1}\n{"i": 2}\n'
    out = cli("-w", "w.duckdb", "query", "select 42 as answer")
    assert "answer" in out.output and "42" in out.output


def test_query_reads_stdin_and_settings_macro(cli):
    cli("-w", "w.duckdb", "init")
    out = cli(
        "-w",
        "w.duckdb",
        "query",
        "-",
        "--format",
        "csv",
        input="select setting('patch_size_px')::int as px, setting('gsd_m')::double as gsd;\n",
    )
    assert out.exit_code == 0
    assert out.output == "px,gsd\n448,0.6\n"


def test_query_is_read_only_unless_write(cli):
    cli("-w", "w.duckdb", "init")
    out = cli("-w", "w.duckdb", "query", "create table t as select 1 as x")
    assert out.exit_code == 1
    assert out.output.startswith("Error: ")
    assert "pass --write to change it" in out.output
    assert (
        cli("-w", "w.duckdb", "query", "--write", "create table t as select 1 as x").exit_code == 0
    )
    assert cli("-w", "w.duckdb", "query", "select x from t", "--format", "csv").output == "x\n1\n"


def test_bad_sql(cli):
    cli("-w", "w.duckdb", "init")
    out = cli("-w", "w.duckdb", "query", "selec 1")
    assert out.exit_code == 1
    assert out.output == 'Error: Parser Error: syntax error at or near "selec"\n'
    out = cli("-w", "w.duckdb", "query", "select * from nope")
    assert out.exit_code == 1
    assert out.output == (
        "Error: Catalog Error: Table with name nope does not exist! "
        "(`rsteller-db stages` lists the relations a build makes)\n"
    )


def test_missing_warehouse_and_missing_folder(cli, tmp_path: Path):
    out = cli("-w", "w.duckdb", "query", "select 1")
    assert out.exit_code == 1
    assert out.output == "Error: no warehouse at w.duckdb: run `rsteller-db init` first\n"
    missing = tmp_path / "no" / "such"
    out = cli("-w", str(missing / "w.duckdb"), "stats", "--out", str(tmp_path / "card"))
    assert out.exit_code == 1
    assert out.output == (
        f"Error: the folder {missing} does not exist: create it "
        f"(mkdir -p {missing}) or pass --warehouse PATH\n"
    )
    assert not missing.exists()


def test_init_creates_missing_folders(cli, tmp_path: Path, monkeypatch):
    target = tmp_path / "some" / "new" / "dir" / "rsteller.duckdb"
    monkeypatch.setenv("RSTELLER_WAREHOUSE", str(target))
    out = cli("init")
    assert out.exit_code == 0, out.output
    assert out.output == f"warehouse ready: {target}\n"
    assert target.is_file()
    out = cli("-w", "/proc/no/such/w.duckdb", "init")
    assert out.exit_code == 1
    assert out.output.startswith("Error: cannot create the warehouse folder /proc/no/such: ")


def test_read_only_folder(cli):
    # /proc refuses new files even to root, unlike a chmod-ed folder
    out = cli("-w", "/proc/w.duckdb", "init")
    assert out.exit_code == 1
    assert out.output == (
        "Error: cannot write the warehouse /proc/w.duckdb: its folder is read-only; "
        "pass --warehouse PATH in a writable folder\n"
    )


def test_unknown_stage(cli):
    cli("-w", "w.duckdb", "init")
    out = cli("-w", "w.duckdb", "build", "--only", "no_such_stage")
    assert out.exit_code == 1
    assert out.output == "Error: unknown stage 'no_such_stage': `rsteller-db stages` lists them\n"


def test_corrupt_file_is_left_alone(cli, tmp_path: Path):
    bad = tmp_path / "w.duckdb"
    bad.write_bytes(b"this is not a database" * 300)
    before = bad.read_bytes()
    out = cli("-w", "w.duckdb", "query", "select 1")
    assert out.exit_code == 1
    assert out.output == (
        "Error: w.duckdb is not a valid DuckDB warehouse (corrupt or another kind "
        "of file): move it away and run `rsteller-db init`, or pass --warehouse PATH\n"
    )
    assert bad.read_bytes() == before


def test_locked_warehouse(cli, tmp_path: Path):
    cli("-w", "w.duckdb", "init")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(tmp_path / "w.duckdb")!r})
            print('locked', flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = cli("-w", "w.duckdb", "build")
        assert out.exit_code == 1
        assert out.output == (
            f"Error: the warehouse w.duckdb is locked by another process "
            f"(PID {holder.pid}): wait for it to finish, or work on a copy "
            "with --warehouse PATH\n"
        )
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    time.sleep(0.1)
    assert cli("-w", "w.duckdb", "build").exit_code == 0


def test_build_and_stages(cli):
    out = cli("-w", "w.duckdb", "-q", "build")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("built ")
    again = cli("-w", "w.duckdb", "-q", "build")
    assert again.output.startswith("built 0 stage(s)")
    listing = cli("-w", "w.duckdb", "stages", "--format", "json")
    rows = json.loads(listing.output)
    assert rows[0]["layer"] == "seeds" and "osm_area_rules" in {r["stage"] for r in rows}
    assert all(r["sql_current"] for r in rows)


def test_settings_from_toml(cli, tmp_path: Path):
    (tmp_path / "rsteller.toml").write_text("seed = 7\nmin_elements = 5\n")
    out = cli("settings", "--format", "json")
    values = {r["key"]: (r["value"], r["source"]) for r in json.loads(out.output)}
    assert values["seed"] == ("7", "rsteller.toml")
    assert values["patch_size_px"] == ("448", "default")
    (tmp_path / "rsteller.toml").write_text("sed = 7\n")
    bad = cli("settings")
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: unknown setting 'sed' in rsteller.toml; known settings: ")


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in sorted(group.commands.items()):
        yield f"{prefix}{name}", cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")


@pytest.mark.parametrize("name,cmd", list(_commands(main)))
def test_every_command_has_help_with_an_example(name, cmd):
    assert cmd.help, f"`rsteller-db {name}` has no help"
    assert "Example:" in cmd.help, f"`rsteller-db {name} --help` shows no example"


def test_cli_reference_is_current():
    """docs/cli.md is generated from --help: `python -m rsteller_db.docgen > docs/cli.md`."""
    from rsteller_db.docgen import cli_reference

    docs = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    assert docs.read_text() == cli_reference(), "docs/cli.md is stale: run `just docs`"
