"""SQL stages: discovery of ``sql/`` files, and the runner that builds them in order.

A stage is one file holding one ``SELECT`` (or ``WITH ... SELECT``) under a header comment::

    -- kind: table            (or view)
    -- grain: patch_id        (what one row is)
    -- refresh: always        (optional: rebuild even when nothing upstream changed)

The relation is named after the file without its order prefix:
``sql/40_marts/10_caption_requests.sql`` builds ``caption_requests``. Layers run in the order
their folders list in (``10_seeds``, ``20_staging``, ``30_intermediate``, ``40_marts``; see
``paths.SQL_FOLDERS``); the number in a file name only orders files within a layer. Seeds
(``sql/10_seeds/*.csv``) load first as tables named after the file, and audits
(``sql/stage_audits/<relation>__<check>.sql``) run right after the relation they name, inside
its transaction: any row they return rolls the stage back.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from .errors import AuditError, StageError
from .paths import SQL_DIR, sql_folder
from .warehouse import Warehouse

LAYERS = ("staging", "intermediate", "marts")
_NAME = re.compile(r"^(?:\d+_)?([a-z_][a-z0-9_]*)$")
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.+?)\s*$")
AUDIT_SAMPLE_ROWS = 5


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Audit:
    name: str
    relation: str
    path: Path
    sql: str


@dataclass(frozen=True)
class Stage:
    name: str
    layer: str
    path: Path
    kind: str  # table | view | seed
    grain: str | None
    sql: str
    refresh_always: bool = False
    audits: tuple[Audit, ...] = field(default=())

    @property
    def sql_hash(self) -> str:
        return sha256_text(self.sql + "".join(a.sql for a in self.audits))


def _relation_name(path: Path) -> str:
    match = _NAME.match(path.stem)
    if not match:
        raise StageError(
            f"{path}: a stage file is named [NN_]<relation>.sql "
            "with a lower-case snake_case relation"
        )
    return match.group(1)


def _parse_header(path: Path, text: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _HEADER.match(line.strip())
        if not match:
            if line.strip().startswith("--"):
                continue
            break
        header[match.group(1)] = match.group(2)
    return header


def _load_stage(path: Path, layer: str, audits: dict[str, list[Audit]]) -> Stage:
    text = path.read_text()
    header = _parse_header(path, text)
    kind = header.get("kind")
    if kind not in ("table", "view"):
        raise StageError(f"{path}: the header needs '-- kind: table' or '-- kind: view'")
    statements = duckdb.extract_statements(text)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise StageError(
            f"{path}: a stage holds exactly one SELECT statement (the runner writes CREATE)"
        )
    name = _relation_name(path)
    return Stage(
        name=name,
        layer=layer,
        path=path,
        kind=kind,
        grain=header.get("grain"),
        sql=text.strip().rstrip(";"),
        refresh_always=header.get("refresh") == "always",
        audits=tuple(audits.get(name, ())),
    )


def _discover_audits(sql_dir: Path) -> dict[str, list[Audit]]:
    found: dict[str, list[Audit]] = {}
    for path in sorted(sql_folder("audits", sql_dir).glob("*.sql")):
        relation, sep, check = path.stem.rpartition("__")
        if not sep:
            raise StageError(f"{path}: an audit is named <relation>__<check>.sql")
        found.setdefault(relation, []).append(
            Audit(
                name=path.stem,
                relation=relation,
                path=path,
                sql=path.read_text().strip().rstrip(";"),
            )
        )
    return found


def discover(sql_dir: Path = SQL_DIR) -> list[Stage]:
    """Seeds, then the stages of each layer in file order."""
    audits = _discover_audits(sql_dir)
    stages: list[Stage] = []
    for path in sorted(sql_folder("seeds", sql_dir).glob("*.csv")):
        name = _relation_name(path)
        stages.append(
            Stage(
                name=name,
                layer="seeds",
                path=path,
                kind="seed",
                grain=None,
                sql=path.read_text(),
                audits=tuple(audits.get(name, ())),
            )
        )
    for layer in LAYERS:
        for path in sorted(sql_folder(layer, sql_dir).glob("*.sql")):
            stages.append(_load_stage(path, layer, audits))
    names = [s.name for s in stages]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StageError(f"two stage files build the same relation: {', '.join(dupes)}")
    known = set(names)
    for relation, items in audits.items():
        if relation not in known:
            raise StageError(
                f"{items[0].path}: audits relation {relation!r}, which no stage builds"
            )
    return stages


def select(
    stages: list[Stage], only: Iterable[str] = (), start: str | None = None, stop: str | None = None
) -> list[Stage]:
    """The stages to run: ``only`` names, or the range ``start``..``stop`` (inclusive)."""
    names = [s.name for s in stages]
    for name in [*only, start, stop]:
        if name is not None and name not in names:
            raise StageError(f"unknown stage {name!r}: `rsteller-db stages` lists them")
    if only:
        wanted = set(only)
        return [s for s in stages if s.name in wanted]
    lo = names.index(start) if start else 0
    hi = names.index(stop) if stop else len(names) - 1
    if lo > hi:
        raise StageError(f"--from {start} comes after --to {stop} in the build order")
    return stages[lo : hi + 1]


@dataclass
class StageResult:
    stage: str
    status: str  # built | skipped
    rows: int | None
    seconds: float


@dataclass
class BuildResult:
    build_id: str
    results: list[StageResult]

    @property
    def built(self) -> list[str]:
        return [r.stage for r in self.results if r.status == "built"]


def _inputs_fingerprint(wh: Warehouse) -> str:
    sources = wh.con.execute(
        "SELECT string_agg(concat_ws('|', source_id, kind, name, sha256), ';' ORDER BY source_id) "
        "FROM _meta.sources"
    ).fetchone()[0]
    return sha256_text(wh.settings.to_json() + "\n" + (sources or ""))


def _last_fingerprint(wh: Warehouse, stage: str) -> str | None:
    row = wh.con.execute(
        "SELECT fingerprint FROM _meta.stage_runs "
        "WHERE stage = ? AND status IN ('built', 'skipped') "
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


def _run_audits(wh: Warehouse, stage: Stage) -> None:
    for audit in stage.audits:
        try:
            cur = wh.con.execute(f"SELECT * FROM ({audit.sql}) LIMIT {AUDIT_SAMPLE_ROWS + 1}")
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


def _record(
    wh: Warehouse,
    build_id: str,
    stage: Stage,
    fingerprint: str,
    status: str,
    rows: int | None,
    started: datetime,
    seconds: float,
    message: str | None = None,
) -> None:
    wh.con.execute(
        "INSERT INTO _meta.stage_runs (build_id, stage, layer, kind, sql_hash, fingerprint, "
        "status, "
        "row_count, started_at, duration_s, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            build_id,
            stage.name,
            stage.layer,
            stage.kind,
            stage.sql_hash,
            fingerprint,
            status,
            rows,
            started,
            seconds,
            message,
        ],
    )


def _roll_back(
    wh: Warehouse,
    build_id: str,
    stage: Stage,
    fingerprint: str,
    started: datetime,
    t0: float,
    message: str,
) -> None:
    """Undo the stage's transaction and record the failed run (outside the transaction)."""
    wh.con.execute("ROLLBACK")
    seconds = time.perf_counter() - t0
    _record(wh, build_id, stage, fingerprint, "failed", None, started, seconds, message)


def run_stage(wh: Warehouse, stage: Stage, fingerprint: str, build_id: str) -> StageResult:
    """Build one stage in a transaction, audit it, and record the run."""
    started = datetime.now()
    t0 = time.perf_counter()
    wh.con.execute("BEGIN")
    try:
        wh.con.execute(_create_sql(stage))
        rows = wh.con.execute(f"SELECT count(*) FROM {stage.name}").fetchone()[0]
        _run_audits(wh, stage)
        seconds = time.perf_counter() - t0
        _record(wh, build_id, stage, fingerprint, "built", rows, started, seconds)
        wh.con.execute("COMMIT")
    except AuditError:
        _roll_back(wh, build_id, stage, fingerprint, started, t0, "audit failed")
        raise
    except duckdb.Error as exc:
        _roll_back(wh, build_id, stage, fingerprint, started, t0, str(exc)[:2000])
        raise StageError(f"stage {stage.name} ({stage.path}) failed: {exc}") from exc
    return StageResult(stage.name, "built", rows, seconds)


def build(
    wh: Warehouse,
    *,
    only: Iterable[str] = (),
    start: str | None = None,
    stop: str | None = None,
    force: bool = False,
    sql_dir: Path = SQL_DIR,
    on_stage: Callable[[Stage, StageResult], None] | None = None,
) -> BuildResult:
    """Build the selected stages in order; skip those whose inputs did not change.

    A stage's fingerprint chains the settings, the ingested sources and the SQL of every
    stage before it, so editing one file rebuilds it and everything after it.
    """
    stages = discover(sql_dir)
    chosen = {s.name for s in select(stages, only, start, stop)}
    build_id = uuid.uuid4().hex[:12]
    fingerprint = _inputs_fingerprint(wh)
    results: list[StageResult] = []
    for stage in stages:
        fingerprint = sha256_text(fingerprint + stage.sql_hash)
        if stage.name not in chosen:
            continue
        fresh = (
            not force
            and not stage.refresh_always
            and _last_fingerprint(wh, stage.name) == fingerprint
            and wh.relation_exists(stage.name)
        )
        if fresh:
            result = StageResult(stage.name, "skipped", None, 0.0)
            _record(wh, build_id, stage, fingerprint, "skipped", None, datetime.now(), 0.0)
        else:
            result = run_stage(wh, stage, fingerprint, build_id)
        results.append(result)
        if on_stage:
            on_stage(stage, result)
    return BuildResult(build_id, results)


def stage_status(wh: Warehouse, sql_dir: Path = SQL_DIR) -> list[tuple]:
    """(order, stage, layer, kind, grain, last built, rows, seconds, up to date) per stage."""
    stages = discover(sql_dir)
    last = {
        row[0]: row[1:]
        for row in wh.con.execute(
            "SELECT stage, started_at, row_count, duration_s, sql_hash FROM _meta.stage_runs "
            "WHERE status = 'built' "
            "QUALIFY row_number() OVER (PARTITION BY stage ORDER BY run_id DESC) = 1"
        ).fetchall()
    }
    out = []
    for i, s in enumerate(stages, 1):
        built_at, rows, seconds, sql_hash = last.get(s.name, (None, None, None, None))
        current = sql_hash == s.sql_hash if sql_hash else False
        out.append((i, s.name, s.layer, s.kind, s.grain, built_at, rows, seconds, current))
    return out
