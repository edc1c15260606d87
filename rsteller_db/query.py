"""Ad-hoc SQL over the warehouse, with results made printable (geometry as WKT, maps as JSON)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from .errors import QueryError
from .warehouse import Warehouse


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple]


def _printable_select(rel: duckdb.DuckDBPyRelation) -> str:
    parts = []
    for name, dtype in zip(rel.columns, rel.types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        text = str(dtype)
        if text.startswith("GEOMETRY") or text == "WKB_BLOB":
            parts.append(f"ST_AsText({quoted}) AS {quoted}")
        elif text == "BLOB":
            parts.append(f"'<' || octet_length({quoted}) || ' bytes>' AS {quoted}")
        else:
            parts.append(quoted)
    return ", ".join(parts)


def run_query(wh: Warehouse, sql: str, params: list | None = None) -> QueryResult:
    """Run one or more statements; the last one's rows are returned."""
    if not sql.strip():
        raise QueryError("the query is empty: pass SQL as an argument, or - to read it from stdin")
    try:
        statements = wh.con.extract_statements(sql)
        if not statements:
            raise QueryError("the query holds no statement")
        for stmt in statements[:-1]:
            wh.con.execute(stmt.query)
        last = statements[-1]
        body = last.query.strip().rstrip(";")
        if last.type == duckdb.StatementType.SELECT and not params:
            rel = wh.con.sql(body)
            types = [str(t) for t in rel.types]
            cur = wh.con.execute(f"SELECT {_printable_select(rel)} FROM ({body})")
        else:
            cur = wh.con.execute(body, params or None)
            types = []
        if cur.description is None:
            return QueryResult([], [], [])
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        return QueryResult(columns, types or [str(d[1]) for d in cur.description], rows)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if isinstance(exc, duckdb.CatalogException):
            hint = " (`rsteller-db stages` lists the relations a build makes)"
        elif "read-only" in str(exc).lower():
            hint = " (queries open the warehouse read-only; pass --write to change it)"
        raise QueryError(f"{message}{hint}") from exc
