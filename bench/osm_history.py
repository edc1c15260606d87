"""History benchmark: ingest and build of a full-history extract next to the plain extract.

Inputs, generated once into the caches (never the repository): ``bench/osm_synth.py``'s map of
``--nodes`` nodes as a plain extract and as a full-history file of it (``--history``: about
three versions per object), under ``bench/naip_synth.py``'s sparse quarter quads of the same
region (480 images at 10 M nodes, acquisition dates spread over RSTeller's 2021-08-01 ..
2022-11-26, so the history build makes the map of every distinct date + 30 days). For each
kind, in a fresh warehouse and a fresh process per command, ``sample_interval = 1`` and
``memory_limit = --memory-limit``: ``ingest osm``, ``ingest naip``, ``build`` (partitioned).
It prints wall and CPU seconds and peak RSS of each command (``wait4``), the RSS peak and time
of the OSM stages (RSS sampled every 0.5 s), the rows they made, and history / plain ratios.

    python bench/osm_history.py            # 10 M nodes
    python bench/osm_history.py --nodes 100000 --cache /tmp/h           # a smoke run
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from scale import run  # noqa: E402

OSM_STAGES = ("stg_osm__image_snapshots", "stg_osm__snapshot_times", "stg_osm__versions",
              "stg_osm__ways", "stg_osm__multipolygons", "stg_osm__elements",
              "stg_osm__boundaries", "int_elements_validated", "int_elements_hidden")


def inputs(cache: Path, scale_cache: Path, nodes: int) -> dict[str, Path]:
    tag = "1x" if nodes == 10_000_000 else str(nodes)
    files = {"plain": scale_cache / f"synth-{tag}.osm.pbf",
             "history": cache / f"synth-{tag}.osh.pbf", "naip": scale_cache / f"naip-{tag}"}
    for kind, extra in (("plain", []), ("history", ["--history"])):
        if not files[kind].exists():
            print(f"generating {files[kind]} (once) ...", file=sys.stderr)
            subprocess.run([sys.executable, str(BENCH / "osm_synth.py"), str(files[kind]),
                            "--nodes", str(nodes), *extra], check=True,
                           stdout=subprocess.DEVNULL)
    if not files["naip"].is_dir() or not any(files["naip"].glob("*.tif")):
        subprocess.run([sys.executable, str(BENCH / "naip_synth.py"), str(files["naip"]),
                        "--nodes", str(nodes)], check=True, stdout=subprocess.DEVNULL)
    return files


def measure(kind: str, files: dict[str, Path], work: Path, limit: str) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "rsteller.toml").write_text(f'sample_interval = 1\nmemory_limit = "{limit}"\n')
    wh = ["-w", "rsteller.duckdb"]
    osm = run([*wh, "ingest", "osm", str(files[kind])], work)
    naip = run([*wh, "ingest", "naip", "--source", "local", str(files["naip"])], work)
    wall, rss, code, cpu, trace = run([*wh, "build"], work, trace=True)
    out = {"kind": kind, "file_mib": round(files[kind].stat().st_size / 2**20, 1),
           "memory_limit": limit, "ok": code == 0 and osm[2] == 0,
           "ingest_s": round(osm[0], 1), "ingest_cpu_s": round(osm[3], 1),
           "ingest_peak_rss_mib": round(osm[1]), "ingest_naip_s": round(naip[0], 1),
           "build_s": round(wall, 1), "build_cpu_s": round(cpu, 1),
           "build_peak_rss_mib": round(rss)}
    if out["ok"]:
        import duckdb

        con = duckdb.connect(str(work / "rsteller.duckdb"), read_only=True)
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        out["rows"] = {
            "raw_objects": q("select count(*) from raw.osm_elements"),
            "raw_versions": q("select count(*) from raw.osm_history"),
            "snapshot_times": q("select count(*) from stg_osm__snapshot_times"),
            "versions_needed": q("select count(*) from stg_osm__versions"),
            "way_states": q("select count(*) from stg_osm__ways"),
            "element_states": q("select count(*) from stg_osm__elements"),
            "elements": q("select count(distinct element_id) from stg_osm__elements"),
            "patches": q("select count(*) from int_patches_gridded"),
            "pairs": q("select count(*) from int_patch_elements_joined"),
            "requests": q("select count(*) from caption_requests"),
            "partitions": q("select count(distinct partition_key) from int_patches_gridded"),
        }
        runs = con.execute("select stage, started_at, duration_s from _meta.stage_runs "
                           "where status = 'built'").fetchall()
        stages = dict(con.execute(
            "select stage, round(sum(duration_s), 1) from _meta.stage_runs where status = "
            "'built' and partition_key is null group by all").fetchall())
        con.close()
        peaks = trace.peaks(runs)
        out["osm_stages"] = {s: {"s": stages.get(s), "peak_rss_mib": peaks.get(s)}
                             for s in OSM_STAGES}
        out["top_rss_stages"] = dict(sorted(peaks.items(), key=lambda kv: -kv[1])[:4])
        out["patches_per_s"] = round(out["rows"]["patches"] / wall, 1)
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/history"),
                        help="where the history file and the work folders go")
    parser.add_argument("--scale-cache", type=Path, default=Path("/work/cache/scale"),
                        help="where bench/scale.py keeps the plain file and the images")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--kinds", nargs="+", choices=("plain", "history"),
                        default=["plain", "history"])
    parser.add_argument("--out", type=Path, help="append each result as a JSON line here")
    args = parser.parse_args()
    files = inputs(args.cache, args.scale_cache, args.nodes)
    results = {}
    for kind in args.kinds:
        results[kind] = measure(kind, files, args.cache / f"work-{kind}", args.memory_limit)
        print(json.dumps(results[kind]), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(results[kind]) + "\n")
    if len(results) == 2 and all(r["ok"] for r in results.values()):
        p, h = results["plain"], results["history"]
        ratio = lambda key: h[key] / p[key]  # noqa: E731
        print(f"history / plain: file {ratio('file_mib'):.2f}x, ingest "
              f"{ratio('ingest_s'):.2f}x wall ({ratio('ingest_cpu_s'):.2f}x"
              f" CPU), build {h['build_s'] / p['build_s']:.2f}x wall "
              f"({h['build_cpu_s'] / p['build_cpu_s']:.2f}x CPU); peak RSS ingest "
              f"{h['ingest_peak_rss_mib']:,} vs {p['ingest_peak_rss_mib']:,} MiB, build "
              f"{h['build_peak_rss_mib']:,} vs {p['build_peak_rss_mib']:,} MiB "
              f"(bound: memory_limit + 1 GB)")


if __name__ == "__main__":
    main()
