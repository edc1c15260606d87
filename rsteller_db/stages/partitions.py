"""Partitioned stages: the patch-grained stages, built one partition at a time.

A partition is a cell of the ``partition_deg`` grid (1 degree: NAIP's 1-degree block); every
image belongs to the cell of its footprint's centroid, and every patch to its image's cell.
The plan is the stage ``int_image_partitions_assigned`` (partition_key, image_name, is_own,
geom): each partition's own images, and its *halo*, the images of neighbouring partitions
that touch them (their windows take part in the overlap rule of the grid).

A partition is built in a DuckDB file of its own (``partitions/<key>.duckdb`` beside the
warehouse) that holds only what it needs: the rows of the global stages it reads, scoped by
their ``-- scope:`` header (``image_name``: rows of its own and halo images; ``geom``: rows
whose bounding box meets the partition's extent; none: whole), and the partition's rows of the
partitioned stages it does not rebuild. The stage files run there unchanged. The stage that
says ``-- partition: partition_key`` (the grid) keeps only the rows of its own partition; the
others (``-- partition: patch_id``) only see that partition's patches. The file is then merged
into the warehouse in one transaction: the partition's old patch ids are deleted from every
rebuilt table and the new rows inserted, and ``_meta.partition_state`` records each stage's
fingerprint for the partition. Memory is bounded by the partition, not by the whole input.

Every stage only ever compares a patch with elements and images that meet it, so the rows of
a partition are exactly the rows the single build makes for its patches: an element that
crosses a partition edge is paired with the patches of each side once, in that side's
partition.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from ..errors import StageError
from ..paths import sql_folder
from .discovery import Stage, sha256_text

PLAN = "int_image_partitions_assigned"
EXTENT_MARGIN_DEG = 1e-5  # about a metre: windows may poke a centimetre past a footprint
# the keys the plan writes: south-west corner, whole degrees or two decimals (n41w075,
# n41.25w074.50, s33e151)
KEY = re.compile(r"[ns]\d{2}(\.\d{2})?[ew]\d{3}(\.\d{2})?")


def bad_keys(keys: Iterable[str]) -> list[str]:
    """The keys that are not partition keys as the plan writes them."""
    return [key for key in keys if not KEY.fullmatch(key)]


def patches_condition(keys: Iterable[str]) -> str:
    """A SQL condition over ``patch_id``: the patch belongs to one of these partitions. The
    keys go in as literals (for options that take SQL text, such as the caption runner's
    ``where``), so they must be partition keys: anything else is refused."""
    keys = sorted(set(keys))
    if not keys or bad_keys(keys):
        raise ValueError(f"not partition keys: {bad_keys(keys) or 'none given'}")
    listed = ", ".join(f"'{key}'" for key in keys)
    return ("patch_id IN (SELECT patch_id FROM int_patches_gridded "
            f"WHERE partition_key IN ({listed}))")


def missing_keys(con: duckdb.DuckDBPyConnection, keys: Iterable[str]) -> list[str]:
    """The keys no patch of ``int_patches_gridded`` has (a typo, or a region not built)."""
    keys = sorted(set(keys))
    found = {key for (key,) in con.execute(
        "SELECT DISTINCT partition_key FROM int_patches_gridded "
        "WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [keys]).fetchall()}
    return [key for key in keys if key not in found]


def known_keys(con: duckdb.DuckDBPyConnection, limit: int = 8) -> list[str]:
    return [key for (key,) in con.execute(
        "SELECT DISTINCT partition_key FROM int_patches_gridded ORDER BY 1 LIMIT ?",
        [limit]).fetchall()]


@dataclass(frozen=True)
class Partition:
    key: str
    own: tuple[str, ...]
    scope: tuple[str, ...]  # own and halo images
    extent: tuple[float, float, float, float]  # EPSG:4326 box of the scope's footprints


@dataclass(frozen=True)
class PartitionJob:
    """Everything a worker needs to build one partition (picklable, for Ray)."""

    partition: Partition
    build: tuple[Stage, ...]  # partitioned stages to rebuild, in order
    copies: tuple[tuple[str, str], ...]  # (relation, how): image_name|geom|whole|root|patch_id
    root: str
    fingerprints: dict[str, str] = field(default_factory=dict)


@dataclass
class PartitionOutcome:
    key: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def read_plan(con: duckdb.DuckDBPyConnection) -> list[Partition]:
    rows = con.execute(f"""
        SELECT partition_key,
               list(image_name ORDER BY image_name) FILTER (WHERE is_own),
               list(image_name ORDER BY image_name),
               min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom))
        FROM {PLAN} GROUP BY partition_key ORDER BY partition_key""").fetchall()
    m = EXTENT_MARGIN_DEG
    return [Partition(key, tuple(own or ()), tuple(scope),
                      (x0 - m, y0 - m, x1 + m, y1 + m))
            for key, own, scope, x0, y0, x1, y1 in rows if own]


def _scope_filter(how: str, partition: Partition, root: str, src: str) -> tuple[str, list]:
    if how == "image_name":
        return "WHERE image_name IN (SELECT unnest(?::VARCHAR[]))", [list(partition.scope)]
    if how == "geom":
        return "WHERE geom && ST_MakeEnvelope(?, ?, ?, ?)", list(partition.extent)
    if how in ("root", "partition_key"):
        return "WHERE partition_key = ?", [partition.key]
    if how == "patch_id":
        return (f"WHERE patch_id IN (SELECT patch_id FROM {src}.main.{root} "
                "WHERE partition_key = ?)", [partition.key])
    return "", []


def scope_digests(con: duckdb.DuckDBPyConnection, relation: str, how: str,
                  partitions: list[Partition]) -> dict[str, str]:
    """A digest per partition of the rows of ``relation`` it sees (same filter as the copy)."""
    out = {}
    if how == "partition_key":
        sql = (f"SELECT partition_key, count(*), bit_xor(hash(r)), sum(hash(r)::HUGEINT) "
               f"FROM main.{relation} AS r GROUP BY ALL")
    elif how == "image_name":
        con.execute("CREATE OR REPLACE TEMP TABLE _scope_images AS "
                    "SELECT unnest(?::VARCHAR[]) AS partition_key, "
                    "unnest(?::VARCHAR[]) AS image_name",
                    [[p.key for p in partitions for _ in p.scope],
                     [name for p in partitions for name in p.scope]])
        sql = (f"SELECT s.partition_key, count(*), bit_xor(hash(r)), sum(hash(r)::HUGEINT) "
               f"FROM _scope_images AS s JOIN main.{relation} AS r USING (image_name) "
               "GROUP BY ALL")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _scope_boxes AS "
                    "SELECT unnest(?::VARCHAR[]) AS partition_key, "
                    "ST_MakeEnvelope(unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), "
                    "unnest(?::DOUBLE[]), unnest(?::DOUBLE[])) AS box",
                    [[p.key for p in partitions]] + [[p.extent[i] for p in partitions]
                                                     for i in range(4)])
        sql = (f"SELECT b.partition_key, count(*), bit_xor(hash(r)), sum(hash(r)::HUGEINT) "
               f"FROM main.{relation} AS r JOIN _scope_boxes AS b ON r.geom && b.box "
               "GROUP BY ALL")
    for key, n, xor, total in con.execute(sql).fetchall():
        out[key] = f"{n}:{xor}:{total}"
    return {p.key: sha256_text(f"{relation}:{out.get(p.key, 'empty')}") for p in partitions}


def _run_ddl(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((sql_folder("ddl") / "00_meta.sql").read_text())


def build_partition(con: duckdb.DuckDBPyConnection, job: PartitionJob, src: str,
                    run_audits) -> PartitionOutcome:
    """Build ``job`` in ``con``'s default catalog, reading the warehouse attached as ``src``."""
    p = job.partition
    _run_ddl(con)
    con.execute(f"INSERT INTO _meta.settings SELECT * FROM {src}._meta.settings")
    for relation, how in job.copies:
        where, params = _scope_filter(how, p, job.root, src)
        con.execute(f"CREATE TABLE {relation} AS SELECT * FROM {src}.main.{relation} {where}",
                    params)
    outcome = PartitionOutcome(p.key)
    for stage in job.build:
        t0 = time.perf_counter()
        keep = " WHERE partition_key = ?" if stage.partition == "partition_key" else ""
        try:
            con.execute(f"CREATE TABLE {stage.name} AS SELECT * FROM (\n{stage.sql}\n){keep}",
                        [p.key] if keep else [])
        except duckdb.Error as exc:
            raise StageError(f"stage {stage.name} ({stage.path}) failed in partition "
                             f"{p.key}: {exc}") from exc
        outcome.rows[stage.name] = con.execute(
            f"SELECT count(*) FROM {stage.name}").fetchone()[0]
        run_audits(con, stage)
        outcome.seconds[stage.name] = time.perf_counter() - t0
    return outcome


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, name: str) -> list[tuple]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [catalog, name]).fetchall()


def merge_partition(con: duckdb.DuckDBPyConnection, job: PartitionJob, outcome: PartitionOutcome,
                    part: str, home: str, build_id: str, record) -> None:
    """Replace the partition's rows of every rebuilt stage in one transaction."""
    key = job.partition.key
    built = {s.name for s in job.build}
    con.execute("BEGIN")
    try:
        old = (f"SELECT patch_id FROM {home}.main.{job.root} WHERE partition_key = ?"
               if _columns(con, home, job.root) else "SELECT NULL::BIGINT AS patch_id WHERE ?")
        new = f" UNION SELECT patch_id FROM {part}.main.{job.root}" if job.root in built else ""
        con.execute(f"CREATE OR REPLACE TEMP TABLE _partition_ids AS {old}{new}",
                    [key] if _columns(con, home, job.root) else [False])
        for stage in job.build:
            started = datetime.now()
            mine = _columns(con, part, stage.name)
            known = con.execute("SELECT count(*) FROM _meta.partition_state WHERE stage = ?",
                                [stage.name]).fetchone()[0]
            if _columns(con, home, stage.name) != mine or not known:
                # a new table, a new schema, or a table last built whole: start it afresh
                # (every partition is then stale, and rebuilt by this or the next build)
                con.execute(f"CREATE OR REPLACE TABLE {home}.main.{stage.name} AS "
                            f"SELECT * FROM {part}.main.{stage.name} LIMIT 0")
                con.execute("DELETE FROM _meta.partition_state WHERE stage = ?", [stage.name])
            else:
                con.execute(f"DELETE FROM {home}.main.{stage.name} "
                            "WHERE patch_id IN (SELECT patch_id FROM _partition_ids)")
            con.execute(f"INSERT INTO {home}.main.{stage.name} BY NAME "
                        f"SELECT * FROM {part}.main.{stage.name}")
            con.execute(
                "INSERT OR REPLACE INTO _meta.partition_state "
                "(stage, partition_key, fingerprint, row_count, built_at, build_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [stage.name, key, job.fingerprints[stage.name], outcome.rows[stage.name],
                 started, build_id])
            record(stage, job.fingerprints[stage.name], outcome.rows[stage.name],
                   started, outcome.seconds[stage.name], key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_stale(con: duckdb.DuckDBPyConnection, stages: list[Stage], root: str,
               keys: list[str]) -> int:
    """Remove the rows and state of partitions that are no longer in the plan."""
    stale = [k for (k,) in con.execute(
        "SELECT DISTINCT partition_key FROM _meta.partition_state "
        "WHERE partition_key NOT IN (SELECT unnest(?::VARCHAR[]))", [keys]).fetchall()]
    if not stale:
        return 0
    con.execute("BEGIN")
    try:
        exists = {s.name for s in stages if _columns(con, con.execute(
            "SELECT current_database()").fetchone()[0], s.name)}
        if root in exists:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stale_ids AS SELECT patch_id FROM {root} "
                        "WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [stale])
            for stage in sorted(stages, key=lambda s: s.partition == "partition_key"):
                if stage.name in exists:
                    con.execute(f"DELETE FROM {stage.name} "
                                "WHERE patch_id IN (SELECT patch_id FROM _stale_ids)")
        con.execute("DELETE FROM _meta.partition_state "
                    "WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [stale])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(stale)


def partition_file(data_dir: Path, key: str) -> Path:
    from ..paths import inside

    return inside(data_dir / "partitions", f"{key}.duckdb")
