"""Caption quality rules: SQL files in ``sql/50_caption_rules/``, checked in an in-memory DuckDB.

Each rule is one file ``NN_<name>.sql`` holding a query over ``caption_candidates(caption_id,
request_id, task, text, payload, prompt)`` that returns the ``caption_id`` of every caption it
rejects, under a header::

    -- rule: word_count_task12
    -- tasks: 1,2
    -- kind: format
    -- why: RSTeller cleaning: a Task 1/2 caption has 10 to 120 words.

``kind`` sorts the rules for reports: ``format`` (the shape of the text: what constrained
decoding prevents), ``verifier`` (faithfulness to the request's facts: the rules that read the
payload), ``text`` (everything else, the default).

A rejected caption keeps the name of the first rule (in file order) that caught it. Word lists
the rules join on are CSV files beside them, loaded as ``caption_<file stem>``; files named
``_<name>.sql`` hold macros the rules share (created first, after the CSV tables).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import RstellerError
from ..paths import PROMPTS_DIR, sql_folder
from .render import render_request

RULES_DIR = sql_folder("caption_rules")
_HEADER = re.compile(r"^--\s*(rule|tasks|kind|why)\s*:\s*(.*?)\s*$")
KINDS = ("format", "text", "verifier")
_STEM = re.compile(r"^(\d+)_([a-z0-9_]+)$")


class RuleError(RstellerError):
    """A caption rule file is malformed or failed to run."""


@dataclass(frozen=True)
class Rule:
    order: int
    name: str
    tasks: tuple[int, ...]
    why: str
    path: Path
    sql: str
    kind: str = "text"


@dataclass(frozen=True)
class Candidate:
    caption_id: str
    request_id: str
    task: int
    text: str | None
    payload: str  # JSON text
    prompt: str


def load_rules(folder: Path = RULES_DIR) -> list[Rule]:
    rules = []
    for path in sorted(folder.glob("*.sql")):
        if path.name.startswith("_"):
            continue
        stem = _STEM.match(path.stem)
        if not stem:
            raise RuleError(f"{path}: a caption rule file is named NN_<rule>.sql")
        text = path.read_text()
        header: dict[str, str] = {}
        for line in text.splitlines():
            match = _HEADER.match(line.strip())
            if match:
                header[match.group(1)] = match.group(2)
            elif line.strip().startswith("--") and "why" in header:
                header["why"] += " " + line.strip().lstrip("-").strip()
        if header.get("rule", stem.group(2)) != stem.group(2) or "why" not in header:
            raise RuleError(
                f"{path}: the header needs '-- rule: {stem.group(2)}' and '-- why: ...'"
            )
        tasks = tuple(int(t) for t in header.get("tasks", "1,2,3").split(","))
        kind = header.get("kind", "text")
        if kind not in KINDS:
            raise RuleError(f"{path}: '-- kind: {kind}' is not one of {', '.join(KINDS)}")
        rules.append(
            Rule(
                int(stem.group(1)),
                stem.group(2),
                tasks,
                header["why"],
                path,
                text.strip().rstrip(";"),
                kind,
            )
        )
    if not rules:
        raise RuleError(f"no caption rules in {folder}")
    return rules


_SCHEMA = pa.schema(
    [
        ("caption_id", pa.string()),
        ("request_id", pa.string()),
        ("task", pa.int32()),
        ("text", pa.string()),
        ("payload", pa.string()),
        ("prompt", pa.string()),
    ]
)


class RuleBook:
    """The rules compiled into one query; ``check`` maps rejected caption ids to a rule name.

    The rule files are read (and a malformed header refused) at once. With ``background`` the
    in-memory DuckDB that runs them (word lists, macros) is set up on a thread of its own, so a
    caption run reads its first requests meanwhile; ``check`` waits for it and raises what
    the set-up raised."""

    def __init__(self, folder: Path = RULES_DIR, *, background: bool = False):
        self.rules = load_rules(folder)
        self.folder = folder
        parts = [
            f"SELECT caption_id, {rule.order} AS ord, '{rule.name}' AS rule FROM ({rule.sql})"
            for rule in self.rules
        ]
        self.query = (
            "SELECT caption_id, arg_min(rule, ord) AS rule FROM (\n"
            + "\nUNION ALL\n".join(parts)
            + "\n) GROUP BY caption_id"
        )
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="caption-rules")
        self._con = self._pool.submit(self._connect)
        if not background:
            self.con  # noqa: B018 (set up now: an error is raised here)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # no DuckDB bar in a run's output
        for csv in sorted(self.folder.glob("*.csv")):
            con.execute(
                f"CREATE TABLE caption_{csv.stem} AS SELECT * FROM read_csv(?, header = true)",
                [str(csv)],
            )
        for macros in sorted(self.folder.glob("_*.sql")):
            con.execute(macros.read_text())
        return con

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.result()
        except duckdb.Error as exc:
            raise RuleError(f"the caption rules in {self.folder} cannot be set up: {exc}") from exc

    def check(self, candidates: Iterable[Candidate]) -> dict[str, str]:
        rows = list(candidates)
        if not rows:
            return {}
        con = self.con
        table = pa.Table.from_pylist([c.__dict__ for c in rows], schema=_SCHEMA)
        con.register("caption_candidates", table)
        try:
            return dict(con.execute(self.query).fetchall())
        except duckdb.Error as exc:
            raise RuleError(
                f"a caption rule in {self.rules[0].path.parent} failed to run: {exc}"
            ) from exc
        finally:
            con.unregister("caption_candidates")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._con.exception() is None:
            self._con.result().close()


def check_candidate(candidate: Candidate, folder: Path = RULES_DIR) -> str | None:
    """The rule that rejects one caption, or None when it is accepted."""
    book = RuleBook(folder)
    try:
        return book.check([candidate]).get(candidate.caption_id)
    finally:
        book.close()


def check_text(text: str, task: int, payload: str = "{}", prompt: str = "") -> str | None:
    """The rule that rejects one hand-written caption, or None when it is accepted."""
    return check_candidate(Candidate("c", "r", task, text, payload, prompt))


def request_candidate(
    path: str | Path,
    request_id: str,
    text: str,
    *,
    prompts_dir: Path = PROMPTS_DIR,
    max_chars: int = 120,
) -> Candidate:
    """``text`` as a caption of request ``request_id`` of the warehouse at ``path``: with that
    request's task, payload and prompt rendered as a caption run renders it."""
    from ..warehouse import Warehouse

    with Warehouse(path, read_only=True) as wh:
        row = None
        for source in ("caption_requests", "revision_requests"):
            if wh.relation_exists(source):
                row = wh.con.execute(
                    f"SELECT task, prompt_name, payload::VARCHAR FROM {source} "
                    "WHERE request_id = ?",
                    [request_id],
                ).fetchone()
            if row:
                break
    if row is None:
        raise RuleError(
            f"no request {request_id!r} in caption_requests or revision_requests of {path}: "
            "list them with `rsteller-db query \"select request_id from caption_requests\"`"
        )
    task, prompt_name, payload = row
    prompt, _ = render_request(
        prompt_name, json.loads(payload), max_chars=max_chars, folder=prompts_dir
    )
    return Candidate("c", request_id, task, text, payload, prompt.text)
