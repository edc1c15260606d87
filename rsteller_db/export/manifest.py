"""The export manifest: what was exported, from which sources, under which settings and licences."""

from __future__ import annotations

import json
from datetime import date, datetime

from .. import __version__
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


def build_manifest(wh: Warehouse, *, fmt: str, split: str, options: dict,
                   shards: list[dict]) -> dict:
    """The manifest document. Deterministic: the same warehouse gives the same bytes."""
    tasks: dict[str, int] = {}
    for shard in shards:
        for task, n in shard.get("captions_by_task", {}).items():
            tasks[task] = tasks.get(task, 0) + n
    return {
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
