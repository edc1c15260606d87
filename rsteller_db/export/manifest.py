"""The export manifest: what was exported, from which sources, under which settings and licences."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING

from .. import __version__

if TYPE_CHECKING:
    from ..warehouse import Warehouse

ATTRIBUTION = {
    "openstreetmap": {
        "license": "ODbL-1.0",
        "license_url": "https://opendatacommons.org/licenses/odbl/1-0/",
        "credit": "Captions are derived from OpenStreetMap data, (c) OpenStreetMap contributors, "
                  "available under the Open Database License; see "
                  "https://www.openstreetmap.org/copyright",
        "note": "A dataset that contains or is derived from OSM data must credit the "
                "OpenStreetMap contributors and keep the ODbL terms for the derived database.",
    },
    "naip": {
        "license": "public domain",
        "credit": "Imagery: National Agriculture Imagery Program (NAIP), USDA Farm Production "
                  "and Conservation Business Center; public domain.",
    },
}


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def sources(wh: Warehouse) -> list[dict]:
    """The ingested inputs (OSM extracts, NAIP images, ...) from ``_meta.sources``."""
    cur = wh.con.execute(
        "SELECT source_id, kind, name, uri, size_bytes, sha256, snapshot_at, details "
        "FROM _meta.sources ORDER BY source_id"
    )
    columns = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        item = {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        if isinstance(item["details"], str):
            try:
                item["details"] = json.loads(item["details"])
            except ValueError:
                pass
        out.append(item)
    return out


def stored_settings(wh: Warehouse) -> dict:
    """The settings the warehouse was last opened for writing with (``_meta.settings``)."""
    rows = wh.con.execute("SELECT key, value FROM _meta.settings ORDER BY key").fetchall()
    return {key: json.loads(value) for key, value in rows}


def osm_snapshots(wh: Warehouse, partitions=()) -> dict | None:
    """The OSM time each exported image was described from (mart ``export_osm_snapshots``),
    when the images have per-image snapshots (a full-history extract); else None: with plain
    extracts every image sees the extract's date, which ``sources`` records. The mart reads
    ``dataset_samples`` whole (0.4 s at 20,000 samples, most of a manifest's time), so it is
    read only when some image has a snapshot of its own."""
    if not (wh.relation_exists("export_osm_snapshots") and _has_own_snapshots(wh)):
        return None
    where, params = ("WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [list(partitions)]) \
        if partitions else ("", [])
    rows = wh.con.execute(
        "SELECT image_name, acquired_on, osm_at, osm_gap_days, samples, snapshot "
        f"FROM export_osm_snapshots {where} ORDER BY image_name", params).fetchall()
    if not any(row[5] == "per image" for row in rows):
        return None
    return {
        "offset_days": stored_settings(wh).get("osm_date_offset_days"),
        "images": [
            {"image_name": name, "acquired_on": _plain(acquired),
             "osm_snapshot_at": at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None,
             "osm_gap_days": gap, "samples": samples}
            for name, acquired, at, gap, samples, _ in rows
        ],
    }


def _has_own_snapshots(wh: Warehouse) -> bool:
    """Whether any image is described from a map of its own date (``stg_osm__image_snapshots``
    has one row per image: a cheap look before the mart)."""
    row = wh.con.execute("SELECT count(*) FROM stg_osm__image_snapshots "
                         "WHERE snapshot = 'per image'").fetchone()
    return bool(row[0])


def build_manifest(wh: Warehouse, *, fmt: str, split: str, options: dict,
                   shards: list[dict]) -> dict:
    """The manifest document. Deterministic: the same warehouse gives the same bytes."""
    tasks: dict[str, int] = {}
    for shard in shards:
        for task, n in shard.get("captions_by_task", {}).items():
            tasks[task] = tasks.get(task, 0) + n
    manifest = {
        "writer": f"rsteller-db {__version__}",
        "format": fmt,
        "split": split,
        "sample_schema": {
            "members": ["{patch_id}.jpg", "{patch_id}.json"] if fmt == "wds" else [],
            "json": {"metadata": {"patch_id": "int", "image_name": "str"},
                     "annotations": [{"task": "int", "text": "str", "annotator": "str"}]},
        },
        "options": options,
        "samples": sum(s["samples"] for s in shards),
        "skipped": sum(len(s["skipped"]) for s in shards),
        "captions_by_task": dict(sorted(tasks.items())),
        "shards": [
            {"name": s["shard"], "samples": s["samples"], "skipped": len(s["skipped"]),
             "files": s["files"]}
            for s in shards
        ],
        "settings": stored_settings(wh),
        "sources": sources(wh),
        "attribution": ATTRIBUTION,
    }
    snapshots = osm_snapshots(wh, options.get("partitions", ()))
    if snapshots is not None:  # plain extracts: the manifest stays as it was
        manifest["osm_snapshots"] = snapshots
    return manifest
