"""Checking a user's ``--where`` text: one condition over known columns, not a statement.

The text is parsed by DuckDB itself (``json_serialize_sql``) as the WHERE clause of
``SELECT * FROM <relation> WHERE (...)``. The parse tree must be exactly that query (no set
operation, CTE, ORDER BY or LIMIT smuggled in), and the condition may only hold column
references to the relation's columns, constants, operators, casts, CASE and scalar functions:
no subqueries, no aggregates or windows, no functions that read state (``nextval``,
``current_setting``, ...). The query that runs is DuckDB's own re-printing of the checked
tree, so what was checked is what runs. The connection is read-only besides.
"""

from __future__ import annotations

import json

import duckdb

from ..errors import InputError

ALLOWED = {"COLUMN_REF", "CONSTANT", "COMPARISON", "CONJUNCTION", "OPERATOR", "BETWEEN", "CASE",
           "CAST", "FUNCTION", "COLLATE"}
DENIED_FUNCTIONS = {"nextval", "currval", "setseed", "current_setting", "getvariable", "getenv",
                    "random", "uuid", "gen_random_uuid"}


def _fail(condition: str, why: str) -> InputError:
    return InputError(
        f"--where {condition!r} {why}; pass one condition over the sample columns, "
        "e.g. --where \"task = 1 and annotator like '%Nemo%'\""
    )


def _function_kinds(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    rows = con.execute("select distinct function_type from duckdb_functions() "
                       "where lower(function_name) = ?", [name]).fetchall()
    return {r[0] for r in rows}


def _walk(con, node, columns: set[str], condition: str) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(con, item, columns, condition)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class")
    if cls is not None:
        if cls == "SUBQUERY":
            raise _fail(condition, "holds a subquery")
        if cls not in ALLOWED:
            raise _fail(condition, f"holds a {cls.lower().replace('_', ' ')} expression")
        if cls == "COLUMN_REF":
            names = node.get("column_names", [])
            if len(names) != 1 or names[0].lower() not in columns:
                known = ", ".join(sorted(columns))
                raise InputError(
                    f"--where names an unknown column {'.'.join(names)!r}; "
                    f"the sample columns are: {known}"
                )
        if cls == "FUNCTION":
            name = node.get("function_name", "").lower()
            if name in DENIED_FUNCTIONS:
                raise _fail(condition, f"calls {name}(), which does not depend on the samples")
            kinds = _function_kinds(con, name)
            if not kinds & {"scalar", "macro"}:
                what = "/".join(sorted(kinds)) or "unknown"
                article = "an" if what[0] in "aeiou" else "a"
                raise _fail(condition, f"calls {name}(), {article} {what} function")
            if node.get("filter") or node.get("distinct"):
                raise _fail(condition, f"calls {name}() as an aggregate")
    for key, value in node.items():
        if key != "class":
            _walk(con, value, columns, condition)


def _single_select(tree: dict, relation: str) -> dict | None:
    statements = tree.get("statements") or []
    if len(statements) != 1:
        return None
    node = statements[0].get("node", {})
    source = node.get("from_table") or {}
    star = node.get("select_list") or []
    plain = (
        node.get("type") == "SELECT_NODE"
        and not node.get("modifiers") and not (node.get("cte_map") or {}).get("map")
        and source.get("type") == "BASE_TABLE" and source.get("table_name") == relation
        and not source.get("schema_name") and not source.get("alias") and not source.get("sample")
        and len(star) == 1 and star[0].get("class") == "STAR"
        and not node.get("group_expressions") and not node.get("having")
        and not node.get("qualify") and not node.get("sample")
        and node.get("where_clause") is not None
    )
    return node if plain else None


def checked_query(con: duckdb.DuckDBPyConnection, condition: str, relation: str,
                  columns: list[str]) -> str:
    """``SELECT * FROM relation WHERE (condition)``, as DuckDB re-prints it once checked."""
    if not condition or not condition.strip():
        raise _fail(condition, "is empty")
    sql = f"SELECT * FROM {relation} WHERE ({condition})"
    try:
        if len(con.extract_statements(sql)) != 1:
            raise _fail(condition, "holds more than one statement")
        tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise _fail(condition, f"is not valid SQL ({first})") from exc
    if tree.get("error"):
        raise _fail(condition, f"is not valid SQL ({tree.get('error_message', 'parse error')})")
    node = _single_select(tree, relation)
    if node is None:
        raise _fail(condition, "is not a plain condition (it changes the query around it)")
    _walk(con, node["where_clause"], {c.lower() for c in columns}, condition)
    return con.execute("select json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchone()[0]
