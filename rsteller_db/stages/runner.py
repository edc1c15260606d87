"""The stage runner: builds the stages in order, skipping those whose inputs did not change.

Each stage is built in a transaction with its audits and recorded in ``_meta.stage_runs``.
Stages with a ``-- partition:`` header are built partition by partition (partitions.py) by an
executor (executors.py: ``local`` in this process, ``ray`` across a Ray cluster), after the
global stages they read and before the global stages that read them; ``single=True`` builds
them whole, like any other stage, with the same result.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ..errors import AuditError, StageError
from ..paths import SQL_DIR
from ..warehouse import Warehouse
from . import partitions as parts
from .discovery import Stage, discover, select, sha256_text
from .fingerprints import ExternalInputs, combined, stage_fingerprint, unrepeatable

AUDIT_SAMPLE_ROWS = 5
# A stage with `-- slices: R` is built in ceil(rows(R) * SLICE_BYTES_PER_ROW / memory_limit)
# slices: its SQL keeps the rows where `hash(key) % slice_count() = slice_index()`. Measured:
# stg_osm__ways needs about 180 B per raw OSM row for its per-way lists (docs/scale.md), which
# DuckDB cannot spill; 400 leaves room for the join beside them.
SLICE_BYTES_PER_ROW = 400
_SIZE = re.compile(r"^\s*([\d.]+)\s*([KMGT]?i?B)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20,
          "gib": 2**30, "tib": 2**40}


@dataclass
class StageResult:
    stage: str
    status: str  # built | skipped
    rows: int | None
    seconds: float
    partitions_built: int = 0
    partitions: int = 0


@dataclass
class BuildResult:
    build_id: str
    results: list[StageResult]

    @property
    def built(self) -> list[str]:
        return [r.stage for r in self.results if r.status == "built"]


def _last_fingerprint(wh: Warehouse, stage: str) -> str | None:
    row = wh.con.execute(
        "SELECT fingerprint FROM _meta.stage_runs "
        "WHERE stage = ? AND status IN ('built', 'skipped') AND partition_key IS NULL "
        "ORDER BY run_id DESC LIMIT 1",
        [stage],
    ).fetchone()
    return row[0] if row else None


def _create_sql(stage: Stage) -> str:
    if stage.kind == "seed":
        path = str(stage.path.resolve()).replace("'", "''")
        return (
            f"CREATE OR REPLACE TABLE {stage.name} AS "
            f"SELECT * FROM read_csv('{path}', header = true, auto_detect = true)"
        )
    return f"CREATE OR REPLACE {stage.kind.upper()} {stage.name} AS\n{stage.sql}"


def run_audits(con: duckdb.DuckDBPyConnection, stage: Stage) -> None:
    for audit in stage.audits:
        try:
            cur = con.execute(f"SELECT * FROM ({audit.sql}) LIMIT {AUDIT_SAMPLE_ROWS + 1}")
        except duckdb.Error as exc:
            raise StageError(f"audit {audit.name} ({audit.path}) failed to run: {exc}") from exc
        rows = cur.fetchall()
        if rows:
            columns = [d[0] for d in cur.description]
            raise AuditError(
                f"audit {audit.name} failed after stage {stage.name}: it returned offending rows "
                f"(first {min(len(rows), AUDIT_SAMPLE_ROWS)} shown); the stage was rolled back",
                rows[:AUDIT_SAMPLE_ROWS],
                columns,
            )


def _record(wh: Warehouse, build_id: str, stage: Stage, fingerprint: str, status: str,
            rows: int | None, started: datetime, seconds: float, message: str | None = None,
            partition_key: str | None = None) -> None:
    wh.con.execute(
        "INSERT INTO _meta.stage_runs (build_id, stage, layer, kind, sql_hash, fingerprint, "
        "status, row_count, started_at, duration_s, message, partition_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [build_id, stage.name, stage.layer, stage.kind, stage.sql_hash, fingerprint, status,
         rows, started, seconds, message, partition_key],
    )


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> float:
    text = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    match = _SIZE.match(text)
    return float(match.group(1)) * _UNITS[match.group(2).lower()] if match else 2**32


def slice_count(wh: Warehouse, stage: Stage) -> int:
    """How many slices ``stage`` is built in (1 unless it says ``-- slices: R[, R2 ...]``: the
    rows of those relations together set it)."""
    rows = 0
    for relation in (part.strip() for part in (stage.slices or "").split(",")):
        schema, _, name = relation.rpartition(".")
        if relation and wh.relation_exists(name, schema or "main"):
            rows += wh.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
    return max(1, math.ceil(rows * SLICE_BYTES_PER_ROW / memory_limit_bytes(wh.con)))


def _create_sliced(wh: Warehouse, stage: Stage, slices: int) -> None:
    """CREATE the first slice, INSERT the others (the slice macros shadow 00_meta.sql's)."""
    wh.con.execute(f"CREATE OR REPLACE TEMP MACRO slice_count() AS {slices}")
    try:
        for k in range(slices):
            wh.con.execute(f"CREATE OR REPLACE TEMP MACRO slice_index() AS {k}")
            if k == 0:
                wh.con.execute(_create_sql(stage))
            else:
                wh.con.execute(f"INSERT INTO {stage.name}\n{stage.sql}")
    finally:
        wh.con.execute("DROP MACRO IF EXISTS temp.slice_count")
        wh.con.execute("DROP MACRO IF EXISTS temp.slice_index")


def run_stage(wh: Warehouse, stage: Stage, fingerprint: str, build_id: str) -> StageResult:
    """Build one stage whole in a transaction, audit it, and record the run."""
    started = datetime.now()
    t0 = time.perf_counter()
    slices = slice_count(wh, stage)
    wh.con.execute("BEGIN")
    try:
        if slices > 1 and stage.kind == "table":
            _create_sliced(wh, stage, slices)
        else:
            wh.con.execute(_create_sql(stage))
        rows = wh.con.execute(f"SELECT count(*) FROM {stage.name}").fetchone()[0]
        run_audits(wh.con, stage)
        if stage.partitioned:  # built whole: no partition's state holds any more
            wh.con.execute("DELETE FROM _meta.partition_state WHERE stage = ?", [stage.name])
        seconds = time.perf_counter() - t0
        _record(wh, build_id, stage, fingerprint, "built", rows, started, seconds,
                f"{slices} slices" if slices > 1 else None)
        wh.con.execute("COMMIT")
    except (AuditError, duckdb.Error) as exc:
        wh.con.execute("ROLLBACK")
        message = "audit failed" if isinstance(exc, AuditError) else str(exc)[:2000]
        _record(wh, build_id, stage, fingerprint, "failed", None, started,
                time.perf_counter() - t0, message)
        if isinstance(exc, AuditError):
            raise
        raise StageError(f"stage {stage.name} ({stage.path}) failed: {exc}") from exc
    return StageResult(stage.name, "built", rows, seconds)


class _Build:
    """One call of :func:`build`: the fingerprints found so far and the results."""

    def __init__(self, wh: Warehouse, stages: list[Stage], chosen: set[str], force: bool,
                 on_stage):
        self.wh, self.stages, self.chosen, self.force = wh, stages, chosen, force
        self.by_name = {s.name: s for s in stages}
        self.on_stage = on_stage
        self.build_id = uuid.uuid4().hex[:12]
        self.external = ExternalInputs(wh)
        self.settings = wh.settings.values
        self.fps: dict[str, str | None] = {}
        self.results: list[StageResult] = []

    def input_fingerprint(self, relation: str) -> str | None:
        if relation in self.by_name:
            return self.fps.get(relation)
        return self.external.fingerprint(relation)

    def done(self, stage: Stage, result: StageResult) -> None:
        self.results.append(result)
        if self.on_stage:
            self.on_stage(stage, result)

    def whole(self, stage: Stage) -> None:
        """Build (or skip) one stage in one piece."""
        inputs = {r: self.input_fingerprint(r) for r in stage.reads}
        fp = stage_fingerprint(stage, self.settings, inputs)
        exists = self.wh.relation_exists(stage.name)
        if stage.name not in self.chosen:
            self.fps[stage.name] = self.rows_fingerprint(stage) or (
                _last_fingerprint(self.wh, stage.name) if exists else fp)
            return
        fresh = (not self.force and not stage.refresh_always and fp is not None and exists
                 and _last_fingerprint(self.wh, stage.name) == fp)
        if fresh:
            result = StageResult(stage.name, "skipped", None, 0.0)
            _record(self.wh, self.build_id, stage, fp, "skipped", None, datetime.now(), 0.0)
        else:
            if fp is None or stage.refresh_always:
                fp = unrepeatable()
            result = run_stage(self.wh, stage, fp, self.build_id)
        self.fps[stage.name] = self.rows_fingerprint(stage) or fp
        self.done(stage, result)

    def rows_fingerprint(self, stage: Stage) -> str | None:
        """For a stage with ``-- fingerprint: rows``: the digest of its rows, which the stages
        reading it see instead of its input fingerprint (a rebuild that yields the same rows
        rebuilds nothing downstream)."""
        if stage.header.get("fingerprint") != "rows" or not self.wh.relation_exists(stage.name):
            return None
        n, xor, total = self.wh.con.execute(
            f"SELECT count(*), bit_xor(hash(r)), sum(hash(r)::HUGEINT) FROM {stage.name} AS r"
        ).fetchone()
        return "rows:" + sha256_text(f"{stage.name}:{n}:{xor}:{total}")

    # -- partitions ----------------------------------------------------------------------
    def partitioned(self, stages: list[Stage], executor: str, on_partition) -> None:
        from .executors import get_executor

        wh, by_name = self.wh, self.by_name
        roots = [s for s in stages if s.partition == "partition_key"]
        if not roots:
            raise StageError("partitioned stages need the stage that assigns partitions "
                             "('-- partition: partition_key')")
        root = roots[0].name
        plan = parts.read_plan(wh.con)
        parts.drop_stale(wh.con, stages, root, [p.key for p in plan])
        digests: dict[str, dict[str, str]] = {}
        for stage in stages:
            if stage.name not in self.chosen:
                continue
            for relation in stage.reads:
                source = by_name.get(relation)
                if source is None:
                    raise StageError(
                        f"partitioned stage {stage.name} reads {relation}, which a partition "
                        "cannot see: it reads stages and seeds only")
                if not source.partitioned and source.scope and relation not in digests:
                    digests[relation] = parts.scope_digests(wh.con, relation, source.scope, plan)
        state = dict(((s, k), fp) for s, k, fp in wh.con.execute(
            "SELECT stage, partition_key, fingerprint FROM _meta.partition_state").fetchall())
        exists = {s.name for s in stages if wh.relation_exists(s.name)}
        jobs: list[parts.PartitionJob] = []
        for partition in plan:
            fp_here: dict[str, str | None] = {}
            todo: list[Stage] = []
            for stage in stages:
                last = state.get((stage.name, partition.key))
                if stage.name not in self.chosen:
                    fp_here[stage.name] = last
                    continue
                inputs = {}
                for relation in stage.reads:
                    source = by_name[relation]
                    if source.partitioned:
                        inputs[relation] = fp_here.get(relation)
                    elif source.scope:
                        inputs[relation] = digests[relation][partition.key]
                    else:
                        inputs[relation] = self.fps.get(relation)
                fp = stage_fingerprint(stage, self.settings, inputs, f"partition {partition.key}")
                stale = (self.force or stage.refresh_always or fp is None or last != fp
                         or stage.name not in exists)
                if stale:
                    fp = unrepeatable() if fp is None or stage.refresh_always else fp
                    todo.append(stage)
                fp_here[stage.name] = fp
            if todo:
                jobs.append(parts.PartitionJob(
                    partition, tuple(todo), self._copies(todo), root,
                    {s.name: fp_here[s.name] for s in todo}))
        built_rows: dict[str, int] = {}
        seconds: dict[str, float] = {}

        def record(stage, fp, rows, started, secs, key):
            _record(wh, self.build_id, stage, fp, "built", rows, started, secs,
                    partition_key=key)
            built_rows[stage.name] = built_rows.get(stage.name, 0) + 1
            seconds[stage.name] = seconds.get(stage.name, 0.0) + secs

        def merge(job, outcome, catalog, home):
            parts.merge_partition(wh.con, job, outcome, catalog, home, self.build_id, record)
            if on_partition:
                on_partition(job.partition.key)

        if jobs:
            get_executor(executor).run(wh, jobs, merge, run_audits)
        final = {}
        for s, k, fp in wh.con.execute(
                "SELECT stage, partition_key, fingerprint FROM _meta.partition_state").fetchall():
            final.setdefault(s, {})[k] = fp
        for stage in stages:
            self.fps[stage.name] = combined(final.get(stage.name, {}))
            if stage.name not in self.chosen:
                continue
            n = built_rows.get(stage.name, 0)
            rows = wh.con.execute(f"SELECT count(*) FROM {stage.name}").fetchone()[0] \
                if wh.relation_exists(stage.name) else None
            status = "built" if n else "skipped"
            _record(wh, self.build_id, stage, self.fps[stage.name], status, rows,
                    datetime.now(), seconds.get(stage.name, 0.0),
                    f"{n} of {len(plan)} partition(s) built")
            self.done(stage, StageResult(stage.name, status, rows if n else None,
                                         seconds.get(stage.name, 0.0), n, len(plan)))

    def _copies(self, todo: list[Stage]) -> tuple[tuple[str, str], ...]:
        built = {s.name for s in todo}
        copies: dict[str, str] = {}
        for stage in todo:
            for relation in stage.reads:
                if relation in built or relation in copies:
                    continue
                source = self.by_name[relation]
                if source.partitioned:
                    copies[relation] = "root" if source.partition == "partition_key" \
                        else "patch_id"
                else:
                    copies[relation] = source.scope or "whole"
        return tuple(copies.items())


def _depends_on_partitions(stages: list[Stage]) -> set[str]:
    """Global stages that read a partitioned stage, directly or through others."""
    by_name = {s.name: s for s in stages}
    tainted: set[str] = set()
    for stage in stages:
        if stage.partitioned:
            continue
        for relation in stage.reads:
            source = by_name.get(relation)
            if source is not None and (source.partitioned or relation in tainted):
                tainted.add(stage.name)
                break
    return tainted


def build(
    wh: Warehouse,
    *,
    only: Iterable[str] = (),
    start: str | None = None,
    stop: str | None = None,
    force: bool = False,
    sql_dir: Path = SQL_DIR,
    on_stage: Callable[[Stage, StageResult], None] | None = None,
    single: bool = False,
    executor: str = "local",
    on_partition: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build the selected stages in order; skip those whose inputs did not change.

    Partitioned stages are built partition by partition when the partition plan exists (or
    is part of this build) and ``single`` is false; otherwise whole.
    """
    stages = discover(sql_dir)
    chosen = {s.name for s in select(stages, only, start, stop)}
    run = _Build(wh, stages, chosen, force, on_stage)
    split = [s for s in stages if s.partitioned]
    use_partitions = (not single and any(s.name in chosen for s in split)
                      and parts.PLAN in run.by_name
                      and (parts.PLAN in chosen or wh.relation_exists(parts.PLAN)))
    if not use_partitions:
        for stage in stages:
            run.whole(stage)
        return BuildResult(run.build_id, run.results)
    after = _depends_on_partitions(stages)
    for stage in split:
        late = [r for r in stage.reads if r in after]
        if late:
            raise StageError(f"partitioned stage {stage.name} reads {', '.join(late)}, which "
                             "reads a partitioned stage itself: make it partitioned too")
    for stage in stages:
        if not stage.partitioned and stage.name not in after:
            run.whole(stage)
    if parts.read_plan(wh.con):
        run.partitioned(split, executor, on_partition)
    else:  # no image yet: the (empty) tables are built whole
        for stage in split:
            run.whole(stage)
    for stage in stages:
        if stage.name in after:
            run.whole(stage)
    order = {s.name: i for i, s in enumerate(stages)}
    run.results.sort(key=lambda r: order[r.stage])
    return BuildResult(run.build_id, run.results)


def stage_status(wh: Warehouse, sql_dir: Path = SQL_DIR) -> list[tuple]:
    """(order, stage, layer, kind, grain, last built, rows, seconds, up to date) per stage."""
    stages = discover(sql_dir)
    last = {
        row[0]: row[1:]
        for row in wh.con.execute(
            "SELECT stage, started_at, row_count, duration_s, sql_hash FROM _meta.stage_runs "
            "WHERE status = 'built' AND partition_key IS NULL "
            "QUALIFY row_number() OVER (PARTITION BY stage ORDER BY run_id DESC) = 1"
        ).fetchall()
    }
    out = []
    for i, s in enumerate(stages, 1):
        built_at, rows, seconds, sql_hash = last.get(s.name, (None, None, None, None))
        current = sql_hash == s.sql_hash if sql_hash else False
        out.append((i, s.name, s.layer, s.kind, s.grain, built_at, rows, seconds, current))
    return out
