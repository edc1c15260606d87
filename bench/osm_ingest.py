"""OSM ingest benchmark: rsteller-db vs quackosm vs pyosmium on the same PBF.

For each file (the bundled sample, and a generated extract of --nodes nodes) it runs, each
in a fresh process:

* rsteller-db: ``rsteller-db ingest osm FILE`` then ``rsteller-db build`` of the OSM stages
  (a private copy of their SQL, so other areas' stages are not timed);
* quackosm: ``convert_pbf_to_parquet(FILE)`` with no tag filter (every tagged feature);
  spatial is installed from the duckdb-extension-spatial wheel first, as it cannot download;
* pyosmium: node locations and libosmium's area assembler (rsteller_db.osm.crosscheck),
  with the same element rules as our staging.

and prints wall time, peak RSS (the process and its children) and feature counts side by
side, with rsteller-db's speed and memory as ratios to quackosm measured in the same run
and its counts against pyosmium's. Files are generated into --cache (not the repository)
and reused.

    python bench/osm_ingest.py                      # sample + 10 M nodes
    python bench/osm_ingest.py --nodes 1000000      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

KINDS = ("area", "line", "point")


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not carry the parent's
    peak across exec) and of its waited-for children."""
    own = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own = int(line.split()[1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


# -- one tool, run in a child process --------------------------------------------------

def run_rsteller(pbf: Path, work: Path) -> dict:
    from osm_support import osm_sql_dir  # the OSM tests' copy of the OSM stages

    env = dict(os.environ, RSTELLER_SQL_DIR=str(osm_sql_dir(work)))
    warehouse = work / "bench.duckdb"
    cli = [sys.executable, "-m", "rsteller_db", "--quiet", "--warehouse", str(warehouse)]
    t0 = time.perf_counter()
    subprocess.run([*cli, "ingest", "osm", str(pbf)], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "build"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    counts = dict(con.execute("SELECT kind, count(*) FROM stg_osm__elements GROUP BY kind")
                  .fetchall())
    return {"wall_s": wall, "peak_rss_mb": peak_rss_mb(), "counts": counts}


def run_quackosm(pbf: Path, work: Path) -> dict:
    import duckdb

    from rsteller_db.warehouse import load_spatial

    load_spatial(duckdb.connect())  # installs spatial from the wheel into ~/.duckdb
    import quackosm

    t0 = time.perf_counter()
    out = quackosm.convert_pbf_to_parquet(str(pbf), working_directory=str(work),
                                          verbosity_mode="silent", ignore_cache=True)
    wall = time.perf_counter() - t0
    rss = peak_rss_mb()
    con = duckdb.connect()
    load_spatial(con)
    rows = con.execute(f"""
        SELECT CASE WHEN ST_GeometryType(geometry)::VARCHAR IN ('POLYGON', 'MULTIPOLYGON')
                    THEN 'area'
                    WHEN ST_GeometryType(geometry)::VARCHAR = 'POINT' THEN 'point'
                    ELSE 'line' END, count(*)
        FROM read_parquet('{out}') GROUP BY 1""").fetchall()
    return {"wall_s": wall, "peak_rss_mb": rss, "counts": dict(rows)}


def run_pyosmium(pbf: Path, work: Path) -> dict:
    from rsteller_db.osm.crosscheck import assemble

    t0 = time.perf_counter()
    rows = assemble(pbf)
    wall = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for kind, *_ in rows:
        counts[kind] = counts.get(kind, 0) + 1
    return {"wall_s": wall, "peak_rss_mb": peak_rss_mb(), "counts": counts}


TOOLS = {"rsteller-db": run_rsteller, "quackosm": run_quackosm, "pyosmium": run_pyosmium}


def measure(tool: str, pbf: Path, work_root: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"{tool}-", dir=work_root))
    try:
        proc = subprocess.run([sys.executable, __file__, "--one", tool, str(pbf), str(work)],
                              check=True, capture_output=True, text=True, cwd=ROOT)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as exc:
        print(exc.stderr[-2000:], file=sys.stderr)
        return {"wall_s": float("nan"), "peak_rss_mb": float("nan"), "counts": {}, "failed": True}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the comparison --------------------------------------------------------------------

def files(cache: Path, nodes: int, skip_large: bool) -> list[tuple[str, Path]]:
    cache.mkdir(parents=True, exist_ok=True)
    sample = cache / "sample" / "town.osm.pbf"
    if not sample.exists():  # in a child, so this process stays small for the measures
        subprocess.run([sys.executable, "-m", "rsteller_db", "sample", "--out",
                        str(sample.parent), "--seed", "0"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    out = [("sample", sample)]
    if not skip_large:
        big = cache / f"synth-{nodes}.osm.pbf"
        if not big.exists():
            print(f"generating {big} (once; reused after) ...", file=sys.stderr)
            subprocess.run([sys.executable, str(ROOT / "bench" / "osm_synth.py"), str(big),
                            "--nodes", str(nodes), "--seed", "0"], check=True,
                           stdout=subprocess.DEVNULL)
        out.append((f"synthetic {nodes / 1e6:g} M nodes", big))
    return out


def report(name: str, pbf: Path, results: dict[str, dict]) -> None:
    mb = pbf.stat().st_size / 2**20
    print(f"\n{name}: {pbf.name} ({mb:.1f} MiB)")
    print(f"{'tool':<12} {'wall s':>8} {'peak RSS MiB':>13} {'areas':>9} {'lines':>9} "
          f"{'points':>9} {'total':>9}")
    for tool, r in results.items():
        c = r["counts"]
        total = sum(c.get(k, 0) for k in KINDS)
        print(f"{tool:<12} {r['wall_s']:>8.1f} {r['peak_rss_mb']:>13.0f} "
              + " ".join(f"{c.get(k, 0):>9}" for k in KINDS) + f" {total:>9}")
    ours, quack, ref = results["rsteller-db"], results["quackosm"], results["pyosmium"]
    failed = [tool for tool, r in results.items() if r.get("failed")]
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the traceback above): no ratios")
        return
    print(f"speed vs quackosm: {quack['wall_s'] / ours['wall_s']:.2f}x faster "
          f"(target >= 3x); peak memory ratio rsteller-db / quackosm: "
          f"{ours['peak_rss_mb'] / quack['peak_rss_mb']:.2f} (target <= 1)")
    diffs = []
    for k in KINDS:
        a, b = ours["counts"].get(k, 0), ref["counts"].get(k, 0)
        diffs.append(f"{k} {100 * (a - b) / b if b else 0.0:+.2f} %")
    print("counts vs pyosmium: " + ", ".join(diffs) + " (target within 1 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description="OSM ingest: rsteller-db vs quackosm vs pyosmium")
    parser.add_argument("--nodes", type=int, default=10_000_000,
                        help="size of the generated extract (default 10 M nodes)")
    parser.add_argument("--skip-large", action="store_true", help="only the bundled sample")
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "rsteller-db" / "bench-osm")
    parser.add_argument("--one", nargs=3, metavar=("TOOL", "PBF", "WORKDIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        tool, pbf, work = args.one
        print(json.dumps(TOOLS[tool](Path(pbf), Path(work))))
        return
    work_root = args.cache / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs; each tool in a fresh process, same file, one run")
    for name, pbf in files(args.cache, args.nodes, args.skip_large):
        results = {tool: measure(tool, pbf, work_root) for tool in TOOLS}
        report(name, pbf, results)


if __name__ == "__main__":
    main()
