"""Tag meanings from the taginfo wiki database (``taginfo-wiki.db``), when a user has it.

taginfo publishes the one-line descriptions of the OpenStreetMap wiki's key and tag pages as
a SQLite file. ``ingest_taginfo`` copies the descriptions of one language into
``raw.taginfo_wiki(key, value, description)`` (value '' for a key's own page), replacing
what an earlier ingest loaded, and records the file in ``_meta.sources``. The SQL stage
``int_tag_meanings_resolved`` then prefers our ``tag_glossary`` seed and falls back to these
rows: key + value first, then the key alone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from . import defaults
from .errors import InputError
from .progress import QUIET, Reporter
from .warehouse import Warehouse

BATCH_ROWS = 20_000

_SELECT = """
    SELECT key, coalesce(value, ''), description
    FROM wikipages
    WHERE lang = ? AND key IS NOT NULL AND key <> ''
      AND description IS NOT NULL AND trim(description) <> ''
      AND coalesce(type, 'page') <> 'redirect'
    ORDER BY key, coalesce(value, '')
"""


@dataclass(frozen=True)
class TaginfoResult:
    path: Path
    lang: str
    tag_rows: int
    key_rows: int
    source_id: int

    @property
    def rows(self) -> int:
        return self.tag_rows + self.key_rows


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _open_wiki_db(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise InputError(f"no taginfo database at {path}: download taginfo-wiki.db "
                         "(taginfo's wiki database) and pass its path")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        db.execute("SELECT lang, key, value, description, type FROM wikipages LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"{path} is not a taginfo wiki database (no readable wikipages table: {exc}); "
            "pass taginfo-wiki.db, not taginfo-db.db or another file"
        ) from exc
    return db


def ingest_taginfo(wh: Warehouse, path: str | Path, *, lang: str = defaults.TAGINFO_LANG,
                   reporter: Reporter = QUIET) -> TaginfoResult:
    """Load the ``lang`` descriptions of ``path`` into ``raw.taginfo_wiki``."""
    path = Path(path)
    db = _open_wiki_db(path)
    try:
        total = db.execute(
            "SELECT count(*) FROM wikipages WHERE lang = ? AND description IS NOT NULL "
            "AND trim(description) <> ''", [lang]).fetchone()[0]
        if total == 0:
            raise InputError(f"{path} holds no wiki descriptions in language {lang!r}: "
                             "try --lang en")
        reporter.step(f"loading {total:,} taginfo descriptions ({lang}) from {path}")
        con = wh.con
        con.execute("BEGIN")
        try:
            con.execute("DELETE FROM raw.taginfo_wiki")
            with reporter.bar("taginfo rows", total=total) as bar:
                cursor = db.execute(_SELECT, [lang])
                while batch := cursor.fetchmany(BATCH_ROWS):
                    con.executemany("INSERT INTO raw.taginfo_wiki VALUES (?, ?, ?)", batch)
                    bar.advance(len(batch))
            counts = con.execute(
                "SELECT count(*) FILTER (WHERE value <> ''), count(*) FILTER (WHERE value = '') "
                "FROM raw.taginfo_wiki").fetchone()
            con.execute("DELETE FROM _meta.sources WHERE kind = 'taginfo'")
            source_id = con.execute(
                "INSERT INTO _meta.sources (kind, name, uri, size_bytes, sha256, details) "
                "VALUES ('taginfo', ?, ?, ?, ?, ?) RETURNING source_id",
                [path.name, str(path.resolve()), path.stat().st_size, _sha256(path),
                 json.dumps({"lang": lang, "tag_rows": counts[0], "key_rows": counts[1]})],
            ).fetchone()[0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return TaginfoResult(path, lang, counts[0], counts[1], source_id)
