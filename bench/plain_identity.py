"""Plain extracts through this code and through another version of it: the same results?

Builds the same inputs with two checkouts of rsteller-db (this one and ``--reference``, e.g.
``git archive main | tar -x -C /tmp/ref``), each in a process of its own with that checkout
first on ``sys.path``, and compares what they made:

* the bundled sample through the commands a user runs: init, ingest osm and naip, build,
  caption with the template back end, images fetch, ``export --format wds`` (the template
  back end because it writes the same captions for the same requests: a run with ``--limit``
  takes the first requests in storage order, which DuckDB does not keep from one build to the
  next, not even with the same code);
* the six-partition synthetic region of tests/scale_world.py, built partition by partition.

Every table of the reference warehouse is compared row for row on the columns both have
(columns only one side has are listed; the fields of a caption run that differ between two
runs, ``run_id``, ``created_at`` and the like, are left out). The export is compared by the
SHA-256 of its tar shards, its metadata sidecars less those fields, and its manifest less
the settings only one side knows.

    python bench/plain_identity.py --reference /tmp/ref --out /work/cache/history/identity
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parents[1]
RUN_FIELDS = {"run_id", "created_at", "latency_s", "fetched_at", "image_fetched_at",
              "ingested_at", "started_at", "finished_at", "wall_s", "built_at", "pid"}

_SIDE = r"""
import sys
from pathlib import Path
out, sample, region = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
from sample_world import run
from scale_world import ingest, make_region, open_warehouse
from rsteller_db import stages
wh = out / "sample" / "rsteller.duckdb"
run(wh, "init")
run(wh, "ingest", "osm", str(sample / "town.osm.pbf"))
run(wh, "ingest", "naip", "--source", "local", str(next(sample.rglob("*.tif")).parent))
run(wh, "build")
run(wh, "caption", "--backend", "template")
run(wh, "images", "fetch")
run(wh, "export", "--format", "wds", "--out", str(out / "export"))
pbf, images = make_region(region)
with open_warehouse(out / "region" / "rsteller.duckdb") as w:
    ingest(w, pbf, images)
    stages.build(w)
"""


def run_side(code: Path, out: Path, sample: Path, region: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{code / 'tests'}"}
    env.pop("RSTELLER_SQL_DIR", None)
    env.pop("RSTELLER_PROMPTS_DIR", None)
    subprocess.run([sys.executable, "-c", _SIDE, str(out), str(sample), str(region)],
                   env=env, cwd=code, check=True)


def compare_tables(ref: Path, ours: Path) -> list[str]:
    from rsteller_db.warehouse import load_spatial

    con = duckdb.connect()
    load_spatial(con)
    con.execute(f"ATTACH '{ref}' AS r (READ_ONLY)")
    con.execute(f"ATTACH '{ours}' AS o (READ_ONLY)")

    def columns(db: str, schema: str, table: str) -> list[str]:
        return [c for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ? ORDER BY column_index", [db, schema, table]).fetchall()]

    report = []
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                         "WHERE database_name = 'r' ORDER BY 1, 2").fetchall()
    for schema, table in tables:
        theirs, mine = columns("r", schema, table), columns("o", schema, table)
        if not mine:
            report.append(f"{schema}.{table}: missing here")
            continue
        keep = [c for c in theirs if c in mine and c not in RUN_FIELDS]
        if schema == "_meta" and table in ("stage_runs", "partition_state", "settings"):
            continue  # bookkeeping of the builds themselves (ids, times, fingerprints)
        cols = ", ".join(f'"{c}"' for c in keep)
        n = con.execute(f"SELECT count(*) FROM r.{schema}.{table}").fetchone()[0]
        only = [con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {a}.{schema}.{table} "
                            f"EXCEPT ALL SELECT {cols} FROM {b}.{schema}.{table})").fetchone()[0]
                for a, b in (("r", "o"), ("o", "r"))]
        extra = [c for c in mine if c not in theirs]
        status = "same" if only == [0, 0] else f"DIFFERENT ({only[0]} / {only[1]} rows apart)"
        report.append(f"{schema}.{table}: {n} rows, {status}"
                      + (f"; new columns here: {', '.join(extra)}" if extra else ""))
    ours_only = {(s, t) for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'o'"
    ).fetchall()} - set(tables)
    report += [f"{s}.{t}: new here" for s, t in sorted(ours_only)]
    con.close()
    return report


def compare_export(ref: Path, ours: Path) -> list[str]:
    report = []
    for tar in sorted(ref.glob("*.tar")):
        same = hashlib.sha256(tar.read_bytes()).digest() == hashlib.sha256(
            (ours / tar.name).read_bytes()).digest()
        report.append(f"{tar.name}: {'byte-identical' if same else 'DIFFERENT'}")

    def rows(path: Path) -> list[dict]:
        out = pq.read_table(path).to_pylist()
        for row in out:
            for key in RUN_FIELDS & set(row):
                row.pop(key)
            row["captions"] = [{k: v for k, v in c.items() if k not in RUN_FIELDS | {"caption_id"}}
                               for c in row["captions"]]
        return out

    for sidecar in sorted(ref.glob("*.parquet")):
        same = rows(sidecar) == rows(ours / sidecar.name)
        report.append(f"{sidecar.name}: {'same rows' if same else 'DIFFERENT'} "
                      "(less the caption runs' ids and times)")
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (ref, ours)]
    new = sorted(set(manifests[1]) - set(manifests[0]))
    new_settings = sorted(set(manifests[1]["settings"]) - set(manifests[0]["settings"]))
    for m in manifests:
        for key in new:
            m.pop(key, None)
        for key in new_settings:
            m["settings"].pop(key, None)
        for shard in m["shards"]:
            shard["files"] = [f for f in shard["files"] if f["name"].endswith(".tar")]
    report.append(f"manifest.json: {'same' if manifests[0] == manifests[1] else 'DIFFERENT'} "
                  f"(new keys here: {new or 'none'}; new settings: {new_settings or 'none'}; "
                  "sidecar checksums left out)")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="the other checkout")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (emptied)")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    from rsteller_db.sample import generate_sample

    sample = args.out / "inputs" / "sample"
    generate_sample(sample, seed=0)
    region = args.out / "inputs" / "region"
    for side, code in (("reference", args.reference.resolve()), ("here", HERE)):
        print(f"building with {code} ...", flush=True)
        run_side(code, args.out / side, sample, region)
    for name, path in (("sample", "sample/rsteller.duckdb"), ("region", "region/rsteller.duckdb")):
        print(f"\n== {name}: tables")
        for line in compare_tables(args.out / "reference" / path, args.out / "here" / path):
            print("  " + line)
    print("\n== sample: export")
    for line in compare_export(args.out / "reference" / "export", args.out / "here" / "export"):
        print("  " + line)


if __name__ == "__main__":
    main()
