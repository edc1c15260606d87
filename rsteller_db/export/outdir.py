"""The output folder of an export: file names, who wrote what, and a clean start or resume.

An export folder holds only files named by the exporter: ``<split>-NNNNNN.tar`` / ``.parquet``
/ ``_stats.json`` per shard, ``manifest.json``, and the marker ``.rsteller-export.json``
written first, which says the folder is ours. Anything else is someone else's file: the
export refuses the folder unless ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .writers import TMP_SUFFIX, ExportError

MARKER = ".rsteller-export.json"
MANIFEST = "manifest.json"
_SPLIT = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHARD_FILE = re.compile(
    r"^(?P<split>[a-z0-9_]+)-(?P<index>\d{6})(?P<ext>\.tar|\.parquet|_stats\.json)$")


def shard_stem(split: str, index: int) -> str:
    return f"{split}-{index:06d}"


def stats_name(split: str, index: int) -> str:
    return f"{shard_stem(split, index)}_stats.json"


def shard_index(name: str, split: str) -> int | None:
    """The shard number of one of our shard files of ``split`` (temporary or final), else None."""
    if name.endswith(TMP_SUFFIX):
        name = name[: -len(TMP_SUFFIX)]
    match = _SHARD_FILE.match(name)
    if not match or match.group("split") != split:
        return None
    return int(match.group("index"))


def is_ours(name: str, split: str) -> bool:
    bare = name[: -len(TMP_SUFFIX)] if name.endswith(TMP_SUFFIX) else name
    return bare in (MARKER, MANIFEST) or shard_index(name, split) is not None


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def prepare(out: Path, *, split: str, fmt: str, overwrite: bool) -> None:
    """Make ``out`` ready: create it, refuse foreign files, drop leftovers of a crashed run."""
    if not _SPLIT.match(split):
        raise ExportError(
            f"--split {split!r} must be lower-case letters, digits and '_' (e.g. train)")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder: pass a folder path")
    out.mkdir(parents=True, exist_ok=True)
    entries = list(out.iterdir())
    folders = [e.name for e in entries if e.is_dir()]
    if folders:
        raise ExportError(
            f"{out} holds folders ({_listing(folders)}) that rsteller-db export did not write: "
            "choose another --out"
        )
    if overwrite:
        for entry in entries:
            entry.unlink()
        entries = []
    marker = out / MARKER
    if entries:
        if not marker.is_file():
            raise ExportError(
                f"{out} already holds files that rsteller-db export did not write "
                f"({_listing([e.name for e in entries])}): pass --overwrite to replace them, "
                "or choose another --out"
            )
        try:
            previous = json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise ExportError(
                f"{marker} is unreadable ({exc}): pass --overwrite to start afresh") from exc
        if (previous.get("format"), previous.get("split")) != (fmt, split):
            raise ExportError(
                f"{out} holds a --format {previous.get('format')} export of split "
                f"{previous.get('split')!r}: pass --overwrite to replace it, "
                "or choose another --out"
            )
        foreign = [e.name for e in entries if not is_ours(e.name, split)]
        if foreign:
            raise ExportError(
                f"{out} holds files that rsteller-db export did not write ({_listing(foreign)}): "
                "move them away, pass --overwrite to replace everything, or choose another --out"
            )
        for entry in entries:
            if entry.name.endswith(TMP_SUFFIX):
                entry.unlink()
    write_json_atomic(marker, {"writer": "rsteller-db export", "format": fmt, "split": split})


def remove_shards_from(out: Path, split: str, first_stale: int) -> list[str]:
    """Delete our shard files numbered ``first_stale`` and above (left by a larger export)."""
    removed = []
    for entry in sorted(out.iterdir()):
        index = shard_index(entry.name, split)
        if index is not None and index >= first_stale:
            entry.unlink()
            removed.append(entry.name)
    return removed
