"""Fingerprints: what a stage's last build was made from, to skip it when nothing changed.

A stage's fingerprint is the SHA-256 of its SQL and its audits' SQL, the values of the
settings it reads, and the fingerprint of every relation it reads (SQLMesh's rule: a model's
own query and its parents, not the whole project). What the relations' fingerprints are:

- another stage: that stage's own fingerprint (for a partitioned stage, the fingerprints of
  all its partitions together);
- a raw table: its ``_meta.sources`` rows (kind ``osm`` for ``raw.osm_elements``, ``naip`` for
  ``raw.naip_images``, ``taginfo`` for ``raw.taginfo_wiki``) and its row count;
- ``_meta.sources`` itself: all its rows;
- anything else (``captions``, ``patch_images``, a table a user made): *live*, it changes
  outside the build. A view over live tables is never stale; a table that reads one is
  rebuilt by every build.

So settings such as ``threads`` or ``memory_limit``, which no SQL reads, rebuild nothing, and
ingesting one more image rebuilds the NAIP stages and what reads them, not the OSM staging.
"""

from __future__ import annotations

import json
import uuid

from ..warehouse import Warehouse
from .discovery import Stage, sha256_text

SOURCE_KINDS = {"raw.osm_elements": "osm", "raw.osm_history": "osm", "raw.naip_images": "naip",
                "raw.taginfo_wiki": "taginfo"}


class ExternalInputs:
    """Fingerprints of the relations no stage builds, computed once per build."""

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self._cache: dict[str, str | None] = {}

    def _sources(self, kind: str | None) -> str:
        where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
        row = self.wh.con.execute(
            "SELECT string_agg(concat_ws('|', source_id, kind, name, sha256), ';' "
            f"ORDER BY source_id) FROM _meta.sources {where}", params).fetchone()
        return row[0] or ""

    def fingerprint(self, relation: str) -> str | None:
        """The fingerprint of ``relation``, or None when it is live."""
        if relation not in self._cache:
            self._cache[relation] = self._compute(relation)
        return self._cache[relation]

    def _compute(self, relation: str) -> str | None:
        if relation in SOURCE_KINDS:
            schema, name = relation.split(".")
            rows = 0
            if self.wh.relation_exists(name, schema):
                rows = self.wh.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
            return sha256_text(f"{self._sources(SOURCE_KINDS[relation])}\n{rows}")
        if relation == "_meta.sources":
            return sha256_text(self._sources(None))
        return None


def stage_fingerprint(stage: Stage, settings: dict, inputs: dict[str, str | None],
                      extra: str = "") -> str | None:
    """The fingerprint of ``stage`` given its inputs' fingerprints (None: live input).

    Returns None when the stage is a table that reads a live input: such a table is rebuilt
    every time (a view over live tables is never stale)."""
    parts = [stage.sql_hash, extra]
    for key in stage.settings:
        parts.append(f"setting {key}={json.dumps(settings.get(key), sort_keys=True)}")
    for relation in stage.reads:
        fp = inputs.get(relation)
        if fp is None and stage.kind in ("table", "seed"):
            return None
        parts.append(f"{relation}={fp or 'live'}")
    return sha256_text("\n".join(parts))


def unrepeatable() -> str:
    """A fingerprint no later build will match (a table over live inputs, a refresh: always)."""
    return "once:" + uuid.uuid4().hex


def combined(fingerprints: dict[str, str]) -> str:
    """One fingerprint for a partitioned stage: its partitions' fingerprints together."""
    return "partitioned:" + sha256_text(
        "\n".join(f"{key}={fp}" for key, fp in sorted(fingerprints.items())))
