"""Settings: defaults, rsteller.toml overrides, validation, storage in the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsteller_db.errors import SettingsError
from rsteller_db.settings import SETTINGS, load_settings
from rsteller_db.warehouse import Warehouse, memory_limit


def test_defaults_match_rsteller(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RSTELLER_CONFIG", raising=False)
    s = load_settings()
    assert (s["patch_size_px"], s["gsd_m"], s["sample_interval"]) == (448, 0.6, 2)
    assert (s["area_task_weight"], s["min_area_norm"], s["min_length_norm"], s["top_k"]) == (
        0.6,
        0.05,
        0.3,
        3,
    )
    assert set(s.sources.values()) == {"default"}


def test_toml_table_and_int_to_float(tmp_path: Path):
    path = tmp_path / "ny.toml"
    path.write_text("[settings]\ngsd_m = 1\nseed = 3\n")
    s = load_settings(path)
    assert s["gsd_m"] == 1.0 and isinstance(s["gsd_m"], float)
    assert s.sources["seed"] == str(path)


@pytest.mark.parametrize(
    "text,message",
    [
        ("seed = 'x'\n", "setting 'seed' in {path} must be int, got 'x'"),
        (
            "sample_interval = 0\n",
            "setting 'sample_interval' must be 1 or more, got 0: fix it in rsteller.toml",
        ),
        (
            "drop_fraction = 1.5\n",
            "setting 'drop_fraction' must be in [0, 1), got 1.5: fix it in rsteller.toml",
        ),
        ("seed = \n", "cannot read settings file {path}: "),
    ],
)
def test_invalid_settings(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value).startswith(message.format(path=path))


def test_missing_explicit_config(tmp_path: Path):
    with pytest.raises(SettingsError, match="does not exist: fix --config"):
        load_settings(tmp_path / "nope.toml")


def test_settings_are_stored_for_sql(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text("min_elements = 4\n")
    with Warehouse(tmp_path / "w.duckdb", settings=load_settings(path)) as wh:
        rows = dict(wh.con.execute("select key, value from _meta.settings").fetchall())
        assert len(rows) == len(SETTINGS)
        assert wh.con.execute("select setting('min_elements')::int").fetchone()[0] == 4
        assert wh.con.execute("select setting('memory_limit')").fetchone()[0] == "75%"
        spill = wh.con.execute("select current_setting('temp_directory')").fetchone()[0]
        assert Path(spill) == (tmp_path / "tmp").resolve()


def test_memory_limit_percent():
    assert memory_limit("8GB") == "8GB"
    assert memory_limit("50%").endswith("MiB") and int(memory_limit("50%")[:-3]) > 256
