"""Rendering of tabular results for the CLI: one ``--format table|csv|json|nl`` choice."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import uuid
from collections.abc import Sequence

FORMATS = ("table", "csv", "json", "nl")


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta, uuid.UUID)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_jsonable)
    return str(value)


def render(
    columns: Sequence[str], rows: Sequence[Sequence], fmt: str = "table", title: str | None = None
) -> str:
    """The rows as text in the chosen format (no trailing newline for ``table``)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return buf.getvalue()
    if fmt in ("json", "nl"):
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        if fmt == "json":
            return json.dumps(records, default=_jsonable, indent=2) + "\n"
        return "".join(json.dumps(r, default=_jsonable) + "\n" for r in records)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(str(col), overflow="fold")
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    console = Console(file=io.StringIO(), width=160, force_terminal=False, color_system=None)
    console.print(table)
    return console.file.getvalue()
