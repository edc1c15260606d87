"""Full-history extracts (``.osh.pbf``): every version of every object, read with pyosmium.

DuckDB's ``ST_ReadOSM`` returns each version of a history file as if it were an object of its
own, without its version number, timestamp or visibility, so history files are read with
pyosmium instead (libosmium, streaming): each version becomes one row of ``raw.osm_history``
(batches of ``BATCH_ROWS``, so memory stays flat) with the time it became current
(``valid_from``) and the time the object's next version replaced it (``valid_until``, NULL for
the last version), found while streaming: a history file holds each object's versions one
after another, objects sorted by type and id (``osmium sort`` makes any file so). The staging
reads these rows for the map as of each image's date (``stg_osm__versions``). A file says it
holds history in its header (required feature ``HistoricalInformation``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ..errors import InputError
from ..progress import QUIET, Reporter
from ..warehouse import Warehouse
from .pbf import PbfHeader

BATCH_ROWS = 50_000
_TYPES = {"n": "node", "w": "way", "r": "relation"}
_RANK = {"node": 0, "way": 1, "relation": 2}
_SCHEMA = pa.schema([
    ("kind", pa.string()), ("id", pa.int64()), ("version", pa.int32()), ("visible", pa.bool_()),
    ("valid_from", pa.timestamp("us")), ("valid_until", pa.timestamp("us")),
    ("tags", pa.map_(pa.string(), pa.string())),
    ("refs", pa.list_(pa.int64())), ("lat", pa.float64()), ("lon", pa.float64()),
    ("ref_roles", pa.list_(pa.string())), ("ref_types", pa.list_(pa.string())),
])


def is_history(header: PbfHeader) -> bool:
    return "HistoricalInformation" in header.required_features


def _degrees(fixed: int) -> float:
    """A coordinate in OSM's 1e-7 degree units as ST_ReadOSM computes it (nanodegrees times
    1e-9), so a history file's nodes have the very doubles a plain extract's have (pyosmium's
    own ``Location.lat`` divides by 1e7 and differs in the last bit for half of them)."""
    return fixed * 100 * 1e-9


def _row(obj) -> list:
    stamp = obj.timestamp  # time-zone aware (UTC): Arrow stores it as UTC
    tags = obj.tags  # no tags: NULL, as ST_ReadOSM gives (len first: most nodes have none)
    tags = [(t.k, t.v) for t in tags] if len(tags) else None
    if obj.is_node():
        loc = obj.location
        ok = obj.visible and loc.valid()
        return ["node", obj.id, obj.version, obj.visible, stamp, None, tags, None,
                _degrees(loc.y) if ok else None, _degrees(loc.x) if ok else None, None, None]
    if obj.is_way():
        return ["way", obj.id, obj.version, obj.visible, stamp, None, tags,
                [n.ref for n in obj.nodes], None, None, None, None]
    members = list(obj.members)
    return ["relation", obj.id, obj.version, obj.visible, stamp, None, tags,
            [m.ref for m in members], None, None, [m.role for m in members],
            [_TYPES[m.type] for m in members]]


def _flush(wh: Warehouse, source_id: int, rows: list[list]) -> None:
    columns = zip(*rows, strict=True)
    table = pa.table([pa.array(c, type=f.type) for c, f in zip(columns, _SCHEMA, strict=True)],
                     schema=_SCHEMA)
    wh.con.register("_history_batch", table)
    try:
        wh.con.execute(
            "INSERT INTO raw.osm_history BY NAME SELECT ? AS source_id, * REPLACE "
            "(ref_types::ENUM('node', 'way', 'relation')[] AS ref_types) FROM _history_batch",
            [source_id])
    finally:
        wh.con.unregister("_history_batch")


def _unsorted(path: Path, before: list, row: list) -> InputError:
    return InputError(
        f"{path} is not sorted: {row[0]} {row[1]} version {row[2]} comes after {before[0]} "
        f"{before[1]} version {before[2]}; sort it with `osmium sort {path.name} -o sorted.osh.pbf`"
        " and ingest that file; the warehouse is unchanged")


def load_history(wh: Warehouse, path: Path, source_id: int,
                 reporter: Reporter = QUIET) -> dict[str, int]:
    """Load every version of ``path`` (inside the caller's transaction); return the counts of
    objects whose last version is visible (the map as the file ends) by kind, and of versions."""
    import osmium

    rows: list[list] = []
    versions = 0
    previous: list | None = None  # held back until the next row says when it was replaced
    # pyosmium does not say how far into the file it is: the bar counts versions
    with reporter.bar(f"reading {path.name} (history, versions)") as bar:
        for obj in osmium.FileProcessor(str(path)):
            row = _row(obj)
            if previous is not None:
                here, there = (_RANK[row[0]], row[1]), (_RANK[previous[0]], previous[1])
                if here == there and row[2] > previous[2]:
                    previous[5] = row[4]  # the next version of the same object replaces it
                elif here <= there:
                    raise _unsorted(path, previous, row)
                rows.append(previous)
            previous = row
            if len(rows) >= BATCH_ROWS:
                _flush(wh, source_id, rows)
                versions += len(rows)
                bar.advance(len(rows))
                rows = []
        if previous is not None:
            rows.append(previous)
        if rows:
            _flush(wh, source_id, rows)
            versions += len(rows)
            bar.advance(len(rows))
    counts = dict(wh.con.execute(
        "SELECT kind::VARCHAR, count(*) FROM raw.osm_history "
        "WHERE source_id = ? AND valid_until IS NULL AND visible GROUP BY ALL",
        [source_id]).fetchall())
    return {"node": counts.get("node", 0), "way": counts.get("way", 0),
            "relation": counts.get("relation", 0), "versions": versions}
