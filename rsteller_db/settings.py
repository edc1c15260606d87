"""Settings: one declared list of knobs, defaults here, overrides from ``rsteller.toml``.

The resolved values are written to ``_meta.settings`` whenever the warehouse is opened for
writing, so SQL stages read them with the ``setting('key')`` macro and every build records
exactly what it ran with.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SettingsError
from .paths import CONFIG_ENV, DEFAULT_CONFIG


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    help: str

    @property
    def type(self) -> type:
        return type(self.default)


SETTINGS: tuple[Setting, ...] = (
    # grid
    Setting("patch_size_px", 448, "patch side in output pixels"),
    Setting("gsd_m", 0.6, "ground sample distance of the output patches, metres per pixel"),
    Setting(
        "sample_interval", 2, "stride between patch origins, in patches (2 leaves a one-patch gap)"
    ),
    Setting("drop_fraction", 0.0, "fraction of grid patches dropped at random (seeded)"),
    Setting("seed", 42, "seed of every random choice (grid drop, task and element selection)"),
    # selection
    Setting(
        "min_elements", 2, "a patch is a candidate when it holds at least this many OSM elements"
    ),
    Setting(
        "area_task_weight",
        0.6,
        "probability of Task 1 (area) when a patch has both areas and lines",
    ),
    Setting("min_area_norm", 0.05, "an area element needs at least this share of the patch"),
    Setting("min_length_norm", 0.3, "a line element needs at least this length / patch side"),
    Setting("top_k", 3, "the element is drawn among the k largest (areas) or longest (lines)"),
    Setting(
        "revisions_per_patch", 1, "Task 3 revisions requested per accepted Task 1/2 caption (1-4)"
    ),
    Setting("tag_value_max_chars", 120, "OSM tag values longer than this are cut before prompting"),
    Setting(
        "osm_date_offset_days",
        30,
        "with a full-history OSM extract, each image sees the map as of its acquisition date "
        "plus this many days (RSTeller: 30; docs/osm.md)",
    ),
    # partitions
    Setting(
        "partition_deg",
        1.0,
        "side of the partition grid in degrees (1: NAIP's 1-degree blocks); the build, "
        "images fetch, caption and export work partition by partition (docs/scale.md)",
    ),
    # engine
    Setting("threads", 0, "CPU threads of DuckDB and of the embedded model (0: all cores)"),
    Setting("memory_limit", "75%", "DuckDB memory limit, e.g. '8GB' or '75%'"),
    Setting("temp_directory", "", "DuckDB spill folder (empty: tmp/ beside the warehouse file)"),
)

_BY_KEY = {s.key: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    want = setting.type
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise SettingsError(
            f"setting {setting.key!r} in {origin} must be {want.__name__}, got {value!r}"
        )
    return value


def _validate(values: dict[str, Any]) -> None:
    checks = [
        ("patch_size_px", values["patch_size_px"] > 0, "must be positive"),
        ("gsd_m", values["gsd_m"] > 0, "must be positive"),
        ("sample_interval", values["sample_interval"] >= 1, "must be 1 or more"),
        ("drop_fraction", 0 <= values["drop_fraction"] < 1, "must be in [0, 1)"),
        ("area_task_weight", 0 <= values["area_task_weight"] <= 1, "must be in [0, 1]"),
        ("top_k", values["top_k"] >= 1, "must be 1 or more"),
        ("revisions_per_patch", 0 <= values["revisions_per_patch"] <= 4, "must be 0-4"),
        ("threads", values["threads"] >= 0, "must be 0 or more"),
        ("partition_deg", 0 < values["partition_deg"] <= 90, "must be in (0, 90]"),
        ("osm_date_offset_days", abs(values["osm_date_offset_days"]) <= 36_500,
         "must be within 100 years (-36500..36500)"),
    ]
    for key, ok, why in checks:
        if not ok:
            raise SettingsError(
                f"setting {key!r} {why}, got {values[key]!r}: fix it in rsteller.toml"
            )


@dataclass(frozen=True)
class Settings:
    values: dict[str, Any]
    sources: dict[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def to_json(self) -> str:
        """Canonical JSON of the values (sorted keys), used in fingerprints and manifests."""
        return json.dumps(self.values, sort_keys=True)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(key, value, default, source, description) for each setting, in declared order."""
        return [
            (
                s.key,
                json.dumps(self.values[s.key]),
                json.dumps(s.default),
                self.sources[s.key],
                s.help,
            )
            for s in SETTINGS
        ]


def config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"settings file {path} does not exist: fix --config")
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_settings(
    config: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Defaults, then the TOML file (top-level keys or a ``[settings]`` table), then overrides."""
    values = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}
    path = config_path(config)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        data = data.get("settings", data)
        for key, value in data.items():
            if key not in _BY_KEY:
                known = ", ".join(sorted(_BY_KEY))
                raise SettingsError(f"unknown setting {key!r} in {path}; known settings: {known}")
            values[key] = _coerce(_BY_KEY[key], value, str(path))
            sources[key] = str(path)
    for key, value in (overrides or {}).items():
        if key not in _BY_KEY:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_KEY[key], value, "overrides")
        sources[key] = "override"
    _validate(values)
    return Settings(values, sources)
