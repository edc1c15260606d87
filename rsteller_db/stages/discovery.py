"""Finding the stages in ``sql/``: header, SQL, audits, and what each one reads.

A stage is one file holding one ``SELECT`` (or ``WITH ... SELECT``) under a header comment::

    -- kind: table            (or view)
    -- grain: patch_id        (what one row is)
    -- refresh: always        (optional: rebuild even when nothing upstream changed)
    -- depends: a, b          (optional: inputs the SQL does not name, e.g. inside a macro)
    -- partition: patch_id    (optional: built partition by partition, see partitions.py)
    -- scope: geom            (optional: what one partition sees of this stage's rows)
    -- slices: raw.osm_elements  (optional: built in slices sized by these relations' rows)
    -- fingerprint: rows     (optional: readers see the digest of its rows, not of its inputs)

Other ``-- key: value`` lines are kept in ``Stage.header`` for the code that reads the
relation (the dataset card's ``title``, ``part``, ``plot`` and ``limit``).

What a stage reads is found in its SQL: DuckDB parses it (``json_serialize_sql``) and every
table it names, less its own CTEs, is an input, and so is every ``setting('key')`` it calls
(the key must be a literal). Its audits' inputs count too. A stage's fingerprint covers only
those (see fingerprints.py), so an ingest rebuilds what reads the ingested table, and no more.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import StageError
from ..paths import SQL_DIR, sql_folder

LAYERS = ("staging", "intermediate", "marts")
PARTITION_MODES = ("partition_key", "patch_id")
SCOPES = ("image_name", "geom", "partition_key")
_NAME = re.compile(r"^(?:\d+_)?([a-z_][a-z0-9_]*)$")
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.+?)\s*$")


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
    reads: tuple[str, ...] = ()  # relations read: 'name' (main schema) or 'schema.name'
    settings: tuple[str, ...] = ()  # setting keys read by the SQL and its audits
    partition: str | None = None  # 'partition_key' | 'patch_id' | None (built whole)
    scope: str | None = None  # 'image_name' | 'geom' | None (a partition reads it whole)
    slices: str | None = None  # relations (comma list) whose rows set the number of slices
    header: dict[str, str] = field(default_factory=dict, compare=False)  # every `-- key: value`

    @property
    def sql_hash(self) -> str:
        return sha256_text(self.sql + "".join(a.sql for a in self.audits))

    @property
    def partitioned(self) -> bool:
        return self.partition is not None


def _relation_name(path: Path) -> str:
    match = _NAME.match(path.stem)
    if not match:
        raise StageError(
            f"{path}: a stage file is named [NN_]<relation>.sql "
            "with a lower-case snake_case relation"
        )
    return match.group(1)


def _parse_header(text: str) -> dict[str, str]:
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


def _walk(node, tables: set[tuple[str, str]], ctes: set[str], keys: set[str], where: Path) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            tables.add((node.get("schema_name") or "", node["table_name"]))
        for item in (node.get("cte_map") or {}).get("map", []):
            ctes.add(item["key"])
        if node.get("class") == "FUNCTION" and node.get("function_name") == "setting":
            args = node.get("children") or []
            value = args[0].get("value", {}) if args and args[0].get("class") == "CONSTANT" else {}
            if not isinstance(value.get("value"), str):
                raise StageError(f"{where}: setting() takes a literal key, e.g. setting('seed')")
            keys.add(value["value"])
        for child in node.values():
            _walk(child, tables, ctes, keys, where)
    elif isinstance(node, list):
        for child in node:
            _walk(child, tables, ctes, keys, where)


_PARSER_LOCK = threading.Lock()


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """One in-memory connection that parses every stage's SQL (a new connection per file
    was most of a small build's time: 112 files, about 30 ms each to open and close)."""
    return duckdb.connect()


def sql_inputs(sql: str, where: Path) -> tuple[set[str], set[str]]:
    """(relations, setting keys) one SELECT reads. Relations of the main schema are bare
    names, others ``schema.name``; the query's own CTEs are left out."""
    names, keys = _parsed_inputs(sql, where)
    return set(names), set(keys)


@functools.lru_cache(maxsize=1024)
def _parsed_inputs(sql: str, where: Path) -> tuple[frozenset[str], frozenset[str]]:
    """sql_inputs of one text, parsed once per process (every build discovers the stages)."""
    with _PARSER_LOCK:
        parsed = json.loads(_parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if parsed.get("error"):
        raise StageError(f"{where}: DuckDB cannot parse it: {parsed.get('error_message')}")
    tables: set[tuple[str, str]] = set()
    ctes: set[str] = set()
    keys: set[str] = set()
    _walk(parsed["statements"], tables, ctes, keys, where)
    names = set()
    for schema, table in tables:
        if schema in ("", "main"):
            if table not in ctes:
                names.add(table)
        else:
            names.add(f"{schema}.{table}")
    return frozenset(names), frozenset(keys)


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _load_stage(path: Path, layer: str, audits: dict[str, list[Audit]]) -> Stage:
    text = path.read_text()
    header = _parse_header(text)
    kind = header.get("kind")
    if kind not in ("table", "view"):
        raise StageError(f"{path}: the header needs '-- kind: table' or '-- kind: view'")
    statements = duckdb.extract_statements(text)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise StageError(
            f"{path}: a stage holds exactly one SELECT statement (the runner writes CREATE)"
        )
    partition, scope = header.get("partition"), header.get("scope")
    if partition is not None and partition not in PARTITION_MODES:
        raise StageError(f"{path}: '-- partition:' is one of {', '.join(PARTITION_MODES)}")
    if partition is not None and kind != "table":
        raise StageError(f"{path}: a partitioned stage is a table ('-- kind: table')")
    if scope is not None and scope not in SCOPES:
        raise StageError(f"{path}: '-- scope:' is one of {', '.join(SCOPES)}")
    name = _relation_name(path)
    own = tuple(audits.get(name, ()))
    sql = text.strip().rstrip(";")
    reads, keys = sql_inputs(sql, path)
    for audit in own:
        more, more_keys = sql_inputs(audit.sql, audit.path)
        reads |= more
        keys |= more_keys
    reads |= set(_listed(header.get("depends")))
    reads.discard(name)
    return Stage(
        name=name,
        layer=layer,
        path=path,
        kind=kind,
        grain=header.get("grain"),
        sql=sql,
        refresh_always=header.get("refresh") == "always",
        audits=own,
        reads=tuple(sorted(reads)),
        settings=tuple(sorted(keys)),
        partition=partition,
        scope=scope,
        slices=header.get("slices"),
        header=header,
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
    position = {name: i for i, name in enumerate(names)}
    for stage in stages:
        later = [r for r in stage.reads if r in position and position[r] > position[stage.name]]
        if later:
            raise StageError(
                f"{stage.path}: reads {', '.join(later)}, which is built after it; "
                "renumber the files so that inputs come first"
            )
    roots = [s.name for s in stages if s.partition == "partition_key"]
    if len(roots) > 1:
        raise StageError(
            f"only one stage may assign partitions ('-- partition: partition_key'): "
            f"{', '.join(roots)}"
        )
    return stages


def select(stages: list[Stage], only=(), start: str | None = None,
           stop: str | None = None) -> list[Stage]:
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
