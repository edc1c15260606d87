"""Full-history extracts (``.osh.pbf``): every version of every object, read with pyosmium.

DuckDB's ``ST_ReadOSM`` returns each version of a history file as if it were an object of its
own, without its version number, timestamp or visibility, so history files are read with
pyosmium instead (libosmium, streaming): each version becomes one row of ``raw.osm_history``
(batches of ``BATCH_ROWS``, so memory stays flat), and the latest visible version of each
object goes to ``raw.osm_elements``, which the staging reads as for a plain extract. A file
says it holds history in its header (required feature ``HistoricalInformation``).
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pyarrow as pa

from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .pbf import PbfHeader

BATCH_ROWS = 50_000
_TYPES = {"n": "node", "w": "way", "r": "relation"}
_SCHEMA = pa.schema([
    ("kind", pa.string()), ("id", pa.int64()), ("version", pa.int32()), ("visible", pa.bool_()),
    ("valid_from", pa.timestamp("us")), ("tags", pa.map_(pa.string(), pa.string())),
    ("refs", pa.list_(pa.int64())), ("lat", pa.float64()), ("lon", pa.float64()),
    ("ref_roles", pa.list_(pa.string())), ("ref_types", pa.list_(pa.string())),
])


def is_history(header: PbfHeader) -> bool:
    return "HistoricalInformation" in header.required_features


def _row(obj) -> tuple:
    stamp = obj.timestamp.astimezone(UTC).replace(tzinfo=None) if obj.timestamp else None
    tags = [(t.k, t.v) for t in obj.tags]
    if obj.is_node():
        loc = obj.location
        ok = obj.visible and loc.valid()
        return ("node", obj.id, obj.version, obj.visible, stamp, tags, None,
                loc.lat if ok else None, loc.lon if ok else None, None, None)
    if obj.is_way():
        return ("way", obj.id, obj.version, obj.visible, stamp, tags,
                [n.ref for n in obj.nodes], None, None, None, None)
    members = list(obj.members)
    return ("relation", obj.id, obj.version, obj.visible, stamp, tags,
            [m.ref for m in members], None, None, [m.role for m in members],
            [_TYPES[m.type] for m in members])


def _flush(wh: Warehouse, source_id: int, rows: list[tuple]) -> None:
    table = pa.Table.from_pylist([dict(zip(_SCHEMA.names, r, strict=True)) for r in rows],
                                 schema=_SCHEMA)
    wh.con.register("_history_batch", table)
    try:
        wh.con.execute(
            "INSERT INTO raw.osm_history SELECT ?, kind, id, version, visible, valid_from, tags, "
            "refs, lat, lon, ref_roles, ref_types::ENUM('node', 'way', 'relation')[] "
            "FROM _history_batch", [source_id])
    finally:
        wh.con.unregister("_history_batch")


def load_history(wh: Warehouse, path: Path, source_id: int,
                 reporter: Reporter = QUIET) -> dict[str, int]:
    """Load every version of ``path`` (inside the caller's transaction); return the counts of
    objects (latest visible versions) by kind, and of versions."""
    import osmium

    rows: list[tuple] = []
    versions = 0
    size = path.stat().st_size
    with reporter.bar(f"reading {path.name} (history)", total=size) as bar:
        for obj in osmium.FileProcessor(str(path)):
            rows.append(_row(obj))
            if len(rows) >= BATCH_ROWS:
                _flush(wh, source_id, rows)
                versions += len(rows)
                rows = []
        if rows:
            _flush(wh, source_id, rows)
            versions += len(rows)
        bar.advance(size)
    wh.con.execute("""
        INSERT INTO raw.osm_elements
        SELECT source_id, kind::VARCHAR, id, tags, refs, lat, lon, ref_roles,
               ref_types::VARCHAR[]
        FROM raw.osm_history WHERE source_id = ?
        QUALIFY row_number() OVER (PARTITION BY kind, id ORDER BY version DESC) = 1
            AND visible""", [source_id])
    counts = dict(wh.con.execute(
        "SELECT kind::VARCHAR, count(*) FROM raw.osm_elements WHERE source_id = ? GROUP BY ALL",
        [source_id]).fetchall())
    return {"node": counts.get("node", 0), "way": counts.get("way", 0),
            "relation": counts.get("relation", 0), "versions": versions}
