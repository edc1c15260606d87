"""`rsteller-db ingest taginfo`: the taginfo wiki database as a fallback for tag meanings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from candidates_world import World

from rsteller_db.errors import InputError
from rsteller_db.taginfo import ingest_taginfo

PAGES = [
    # lang, key, value, description, type
    ("en", "landuse", None, "Primary use of land by humans.", "page"),
    ("en", "landuse", "grass", "Mown grass (taginfo wording).", "page"),
    ("en", "landuse", "aquaculture", "Breeding of fish\nor shellfish in ponds.", "page"),
    ("en", "crop", None, "Which crop grows in the field.", "page"),
    ("en", "surveillance", None, "A camera or other surveillance device.", "page"),
    ("en", "old_key", None, "Moved elsewhere.", "redirect"),
    ("de", "landuse", "aquaculture", "Fischzucht.", "page"),
    ("en", "empty", None, "", "page"),
]


def write_wiki_db(path: Path, pages=PAGES) -> Path:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE wikipages (lang TEXT, tag TEXT, key TEXT, value TEXT, title TEXT, "
        "body TEXT, tgroup TEXT, type TEXT, has_templ INTEGER, parsed INTEGER, "
        "description TEXT, image TEXT)"
    )
    db.executemany(
        "INSERT INTO wikipages (lang, tag, key, value, description, type) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(lang, f"{k}={v}" if v else None, k, v, d, t) for lang, k, v, d, t in pages],
    )
    db.commit()
    db.close()
    return path


def test_ingest_loads_one_language_and_records_the_source(tmp_path):
    wiki = write_wiki_db(tmp_path / "taginfo-wiki.db")
    w = World(tmp_path)
    result = ingest_taginfo(w.wh, wiki)
    assert (result.tag_rows, result.key_rows) == (2, 3)
    rows = w.con.execute("select key, value from raw.taginfo_wiki order by all").fetchall()
    assert rows == [("crop", ""), ("landuse", ""), ("landuse", "aquaculture"),
                    ("landuse", "grass"), ("surveillance", "")]
    source = w.rows("select kind, name, details from _meta.sources")
    assert [(s["kind"], s["name"]) for s in source] == [("taginfo", "taginfo-wiki.db")]
    assert json.loads(source[0]["details"])["lang"] == "en"
    again = ingest_taginfo(w.wh, wiki)  # a second ingest replaces the first
    assert again.rows == 5
    assert w.con.execute("select count(*) from raw.taginfo_wiki").fetchone()[0] == 5
    assert w.con.execute("select count(*) from _meta.sources").fetchone()[0] == 1
    w.close()


def test_glossary_first_then_taginfo_value_then_key(tmp_path):
    w = World(tmp_path)
    ingest_taginfo(w.wh, write_wiki_db(tmp_path / "taginfo-wiki.db"))
    w.add_image()
    w.add_patch(1)
    tags = {"landuse": "aquaculture", "crop": "rice", "surveillance": "camera", "zzz": "1"}
    w.add_element("area", tags, "POLYGON((0 0, 0.8 0, 0.8 0.8, 0 0.8, 0 0))", patch_id=1)
    w.add_element("area", {"landuse": "grass"}, "POLYGON((0 0.9, 0.3 0.9, 0.3 1, 0 1, 0 0.9))",
                  patch_id=1)
    w.build()
    meanings = dict(w.con.execute(
        "select key || '=' || value, description from int_tag_meanings_resolved").fetchall())
    assert meanings["landuse=grass"] == "An area of mown or maintained grass."  # ours wins
    assert meanings["landuse=aquaculture"] == "Breeding of fish or shellfish in ponds."
    payload = json.loads(w.rows("from caption_requests")[0]["payload"])
    got = {t["key"]: t["meaning"] for t in payload["element"]["tags"]}
    assert got == {
        "crop": "The crop grown in the field.",             # glossary key, no value entry
        "landuse": "Breeding of fish or shellfish in ponds.",  # taginfo key+value
        "surveillance": "A camera or other surveillance device.",  # taginfo key only
        "zzz": None,
    }
    w.close()


def test_not_a_taginfo_database(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    w = World(tmp_path)
    with pytest.raises(InputError, match="not a taginfo wiki database"):
        ingest_taginfo(w.wh, other)
    with pytest.raises(InputError, match="no wiki descriptions in language 'xx'"):
        ingest_taginfo(w.wh, write_wiki_db(tmp_path / "wiki.db"), lang="xx")
    w.close()


def test_cli_ingest_taginfo(cli, tmp_path):
    wiki = write_wiki_db(tmp_path / "taginfo-wiki.db")
    result = cli("--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "ingest", "taginfo",
                 str(wiki))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"loaded 2 tag and 3 key descriptions (en) from {wiki}")
    missing = cli("--warehouse", str(tmp_path / "w.duckdb"), "ingest", "taginfo", "nope.db")
    assert missing.exit_code == 1
    assert "Error: no taginfo database at nope.db: download taginfo-wiki.db" in missing.output
    helptext = cli("ingest", "taginfo", "--help").output
    assert "Example:" in helptext
