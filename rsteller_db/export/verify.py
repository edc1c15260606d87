"""``export verify``: check an export folder against its manifest and RSTeller's sample schema.

Checks: the manifest is readable; every file it lists exists with its size and sha256; every
tar shard opens, holds exactly a ``.jpg`` and a ``.json`` per key, each JSON document follows
the schema and names its own key, each image is a JPEG of the patch size in RGB; the sample
counts match; no patch appears twice across the export.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from ..progress import QUIET, Reporter
from .outdir import MANIFEST
from .writers import ExportError


@dataclass
class VerifyReport:
    folder: Path
    shards: int = 0
    samples: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def document_problems(key: str, document) -> list[str]:
    """What is wrong with one sample's JSON document, per RSTeller's schema (empty when fine)."""
    if not isinstance(document, dict) or set(document) != {"metadata", "annotations"}:
        return ["json must be an object with exactly 'metadata' and 'annotations'"]
    problems = []
    meta = document["metadata"]
    if not isinstance(meta, dict) or set(meta) != {"patch_id", "image_name"}:
        problems.append("metadata must hold exactly 'patch_id' and 'image_name'")
    else:
        if type(meta["patch_id"]) is not int or str(meta["patch_id"]) != key:
            problems.append(f"metadata.patch_id {meta['patch_id']!r} is not the key {key}")
        if not isinstance(meta["image_name"], str) or not meta["image_name"]:
            problems.append("metadata.image_name must be a non-empty string")
    notes = document["annotations"]
    if not isinstance(notes, list) or not notes:
        return [*problems, "annotations must be a non-empty list"]
    for i, note in enumerate(notes):
        if not isinstance(note, dict) or set(note) != {"task", "text", "annotator"}:
            problems.append(f"annotations[{i}] must hold exactly 'task', 'text', 'annotator'")
        elif (type(note["task"]) is not int or note["task"] not in (1, 2, 3)
              or not isinstance(note["text"], str) or not note["text"].strip()
              or not isinstance(note["annotator"], str)):
            problems.append(f"annotations[{i}]: task must be 1-3, text and annotator strings")
    first = notes[0].get("task") if isinstance(notes[0], dict) else None
    primaries = sum(1 for n in notes if isinstance(n, dict) and n.get("task") in (1, 2))
    if first not in (1, 2) or primaries != 1:
        problems.append("annotations must start with the one Task 1 or Task 2 caption")
    return problems


def _check_tar(path: Path, patch_size: int, seen: dict[str, str], report: VerifyReport) -> int:
    members: dict[str, dict[str, bytes]] = {}
    name = path.name
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                key, dot, ext = info.name.partition(".")
                if not info.isfile() or not dot:
                    report.problems.append(f"{name}: unexpected member {info.name}")
                    continue
                members.setdefault(key, {})[ext] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        report.problems.append(f"{name}: does not open as a tar file ({exc})")
        return 0
    for key, parts in members.items():
        if sorted(parts) != ["jpg", "json"]:
            report.problems.append(f"{name}: key {key} has {sorted(parts)}, expected jpg and json")
            continue
        if key in seen:
            report.problems.append(f"{name}: patch {key} appears twice (also in {seen[key]})")
        seen[key] = name
        try:
            document = json.loads(parts["json"])
        except ValueError as exc:
            report.problems.append(f"{name}: {key}.json is not JSON ({exc})")
        else:
            report.problems.extend(
                f"{name}: {key}.json: {p}" for p in document_problems(key, document))
        try:
            with Image.open(io.BytesIO(parts["jpg"])) as image:
                expected = ("JPEG", "RGB", (patch_size, patch_size))
                if (image.format, image.mode, image.size) != expected:
                    report.problems.append(
                        f"{name}: {key}.jpg is a {image.format} {image.mode} image of "
                        f"{image.size}, expected an RGB JPEG of {patch_size}x{patch_size}")
        except OSError as exc:
            report.problems.append(f"{name}: {key}.jpg is not an image ({exc})")
    return len(members)


def _check_parquet(path: Path, seen: dict[str, str], report: VerifyReport) -> int:
    try:
        ids = pq.read_table(path, columns=["patch_id"]).column("patch_id").to_pylist()
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        report.problems.append(f"{path.name}: does not open as parquet ({exc})")
        return 0
    for patch_id in ids:
        key = str(patch_id)
        if key in seen:
            report.problems.append(f"{path.name}: patch {key} appears twice (also in {seen[key]})")
        seen[key] = path.name
    return len(ids)


def verify_export(folder: str | Path, reporter: Reporter = QUIET) -> VerifyReport:
    """Check ``folder``; the report lists every problem found (none: the export is sound)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        shards = manifest["shards"]
        patch_size = int(manifest["options"]["patch_size_px"])
        fmt = manifest["format"]
    except FileNotFoundError:
        raise ExportError(f"no {MANIFEST} in {folder}: is it an export folder? "
                          "Run `rsteller-db export --out DIR` (again) to finish it") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{manifest_path} is unreadable ({exc}): re-run the export") from exc
    report = VerifyReport(folder)
    seen: dict[str, str] = {}
    for shard in reporter.track(shards, "shards"):
        report.shards += 1
        count = None
        for item in shard["files"]:
            path = folder / item["name"]
            if not path.is_file():
                report.problems.append(f"{item['name']}: listed in the manifest but missing")
                continue
            if path.stat().st_size != item["bytes"] or _sha256(path) != item["sha256"]:
                report.problems.append(f"{item['name']}: sha256 differs from the manifest")
            if path.suffix == ".tar":
                count = _check_tar(path, patch_size, seen, report)
            elif path.suffix == ".parquet":
                rows = _check_parquet(path, {} if fmt == "wds" else seen, report)
                count = rows if count is None else count
                if rows != shard["samples"]:
                    report.problems.append(f"{item['name']}: {rows} rows, the manifest says "
                                           f"{shard['samples']}")
        if count is not None and count != shard["samples"]:
            report.problems.append(f"{shard['name']}: {count} samples, the manifest says "
                                   f"{shard['samples']}")
        report.samples += count or 0
    if report.samples != manifest.get("samples"):
        report.problems.append(f"{report.samples} samples in the shards, the manifest says "
                               f"{manifest.get('samples')}")
    return report
