"""Scale benchmark: `rsteller-db build` at 1x, 4x and 16x the 10 M-node synthetic input.

The input of scale k is ``bench/osm_synth.py`` with k x 10 M nodes (a town grid near 41 N,
75 W; 16x spans 302 km and two UTM zones) under ``bench/naip_synth.py``'s sparse quarter-quad
GeoTIFFs (5,800 x 7,000 px, 300 m overlap), generated once into --cache (never the
repository) in bounded memory. For every scale and mode, in a fresh warehouse and a fresh
process per command (``sample_interval = 1`` as in the issue's figures):

* ``single``: ``build --single`` with the machine's default memory limit (75 %): today's
  single-process build, the baseline of the throughput ratio, measured in the same run;
* ``single-4GB``: ``build --single`` under ``memory_limit = '4GB'``;
* ``partitioned``: ``build`` (1-degree partitions, one after another) under the same 4 GB.

It prints wall time, peak RSS of the build process (``wait4``), patches, pairs and patches/s,
and the partitioned rate over the single-process rate at 1x. ``--export N`` adds
``export --workers 1`` against ``--workers 2`` on a synthetic warehouse of N samples.

    python bench/scale.py --scales 1 4 16             # everything (hours at 16x: use the lock)
    python bench/scale.py --scales 1 --modes single partitioned --export 5000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MODES = {
    "single": (["build", "--single"], None),
    "single-4GB": (["build", "--single"], "4GB"),
    "partitioned": (["build"], "4GB"),
}


BASE_NODES = 10_000_000


def inputs(cache: Path, scale: int) -> tuple[Path, Path]:
    tag = f"{scale}x" if BASE_NODES == 10_000_000 else f"{scale}x{BASE_NODES}"
    pbf, images = cache / f"synth-{tag}.osm.pbf", cache / f"naip-{tag}"
    nodes = str(scale * BASE_NODES)
    if not pbf.exists():
        print(f"generating {pbf} (once) ...", file=sys.stderr)
        subprocess.run([sys.executable, str(BENCH / "osm_synth.py"), str(pbf), "--nodes", nodes],
                       check=True, stdout=subprocess.DEVNULL)
    if not images.is_dir() or not any(images.glob("*.tif")):
        subprocess.run([sys.executable, str(BENCH / "naip_synth.py"), str(images),
                        "--nodes", nodes], check=True, stdout=subprocess.DEVNULL)
    return pbf, images


class RssTrace:
    """The resident memory of a process, sampled every ``interval`` seconds on a thread, so a
    build's peak can be put down to the stage that was running (``_meta.stage_runs``)."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.samples: list[tuple[datetime, float]] = []  # (local time, MiB)
        self._pid, self._interval = pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        status = Path(f"/proc/{self._pid}/status")
        while not self._stop.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((datetime.now(), int(line.split()[1]) / 1024))
            except OSError:  # the process has ended
                return
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self, runs: list[tuple[str, datetime, float]]) -> dict[str, float]:
        """Peak MiB sampled during each run of (stage, started_at, duration_s); a stage built
        in several runs (partitions) gets the highest."""
        out: dict[str, float] = {}
        for stage, started, seconds in runs:
            end = started + timedelta(seconds=seconds)
            inside = [mib for at, mib in self.samples if started <= at <= end]
            if inside:
                out[stage] = round(max(out.get(stage, 0.0), *inside))
        return out


def run(args: list[str], cwd: Path, trace: bool = False
        ) -> tuple[float, float, int, float, RssTrace | None]:
    """(wall seconds, peak RSS in MiB, exit status, CPU seconds, RSS trace or None) of one CLI
    command in a fresh process. CPU seconds (user + system, all threads) are less disturbed
    than wall time by other work on a shared machine."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rsteller_db", "--quiet", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = RssTrace(proc.pid) if trace else None
    err = proc.stderr.read()  # until the process closes it (ends): no full pipe blocks it
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if rss is not None:
        rss.stop()
    if status:
        print(f"  {' '.join(args)} failed: {err.strip().splitlines()[-1:]}", file=sys.stderr)
    return (wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
            usage.ru_utime + usage.ru_stime, rss)


def measure(cache: Path, scale: int, mode: str) -> dict:
    pbf, images = inputs(cache, scale)
    work = cache / f"work-{scale}x-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    command, limit = MODES[mode]
    toml = ["sample_interval = 1"] + ([f'memory_limit = "{limit}"'] if limit else [])
    (work / "rsteller.toml").write_text("\n".join(toml) + "\n")
    wh = ["-w", "rsteller.duckdb"]
    t_osm = run([*wh, "ingest", "osm", str(pbf)], work)
    t_naip = run([*wh, "ingest", "naip", "--source", "local", str(images)], work)
    wall, rss, code, cpu, trace = run([*wh, *command], work, trace=True)
    out = {"scale": scale, "mode": mode, "memory_limit": limit or "75%", "build_s": wall,
           "build_cpu_s": cpu,
           "build_peak_rss_mib": rss, "ok": code == 0, "ingest_osm_s": t_osm[0],
           "ingest_osm_peak_rss_mib": t_osm[1], "ingest_naip_s": t_naip[0]}
    if code == 0:
        import duckdb

        con = duckdb.connect(str(work / "rsteller.duckdb"), read_only=True)
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        out.update(
            images=q("select count(*) from stg_naip__images"),
            elements=q("select count(*) from stg_osm__elements"),
            patches=q("select count(*) from int_patches_gridded"),
            pairs=q("select count(*) from int_patch_elements_joined"),
            requests=q("select count(*) from caption_requests"),
            partitions=q("select count(distinct partition_key) from int_patches_gridded"),
            nodes=q("select count(*) from raw.osm_elements where kind = 'node'"))
        runs = con.execute("select stage, started_at, duration_s from _meta.stage_runs "
                           "where status = 'built'").fetchall()
        con.close()
        peaks = trace.peaks(runs)  # the 5 stages with the highest RSS, highest first
        out["stage_peak_rss_mib"] = dict(sorted(peaks.items(), key=lambda kv: -kv[1])[:5])
        out["patches_per_s"] = out["patches"] / wall
        out["patches_per_cpu_s"] = out["patches"] / cpu
    shutil.rmtree(work, ignore_errors=True)
    return out


def export_rates(n: int, repeat: int = 3) -> dict:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import tempfile

    from export import clear_outputs, export_once, timed
    from export_world import synthetic_warehouse

    rates: dict[str, list[float]] = {"workers_1": [], "workers_2": []}
    with tempfile.TemporaryDirectory(prefix="bench-scale-export-") as tmp:
        root = Path(tmp)
        wh = root / "wh" / "rsteller.duckdb"
        wh.parent.mkdir()
        synthetic_warehouse(wh, n, revisions=1)
        export_once(wh, root / "export", 500)  # warm the page cache
        for _ in range(repeat):
            for workers in (1, 2):
                clear_outputs(root)
                seconds, _, count = timed(export_once, wh, root / "export", 500, workers)
                rates[f"workers_{workers}"].append(count / seconds)
    best = {k: max(v) for k, v in rates.items()}
    paired = sorted(w / o for w, o in zip(rates["workers_2"], rates["workers_1"], strict=True))
    return {"samples": n, **{f"{k}_samples_per_s": round(v) for k, v in best.items()},
            "workers_2_vs_1": round(best["workers_2"] / best["workers_1"], 3),
            "workers_2_vs_1_median_of_rounds": round(paired[len(paired) // 2], 3)}


def table(results: list[dict]) -> str:
    head = ("| scale | mode | memory_limit | images | elements | patches | pairs | partitions "
            "| build s | peak RSS MiB | patches/s |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for r in results:
        if not r["ok"]:
            rows.append(f"| {r['scale']}x | {r['mode']} | {r['memory_limit']} | | | | | | "
                        f"failed after {r['build_s']:.0f} | {r['build_peak_rss_mib']:,.0f} | |")
            continue
        rows.append(f"| {r['scale']}x | {r['mode']} | {r['memory_limit']} | {r['images']:,} | "
                    f"{r['elements']:,} | {r['patches']:,} | {r['pairs']:,} | {r['partitions']} "
                    f"| {r['build_s']:.1f} | {r['build_peak_rss_mib']:,.0f} | "
                    f"{r['patches_per_s']:,.0f} |")
    return "\n".join([head, *rows])


def main() -> None:
    global BASE_NODES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=list(MODES))
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/scale"))
    parser.add_argument("--export", type=int, default=0, metavar="N",
                        help="also time export --workers 1 and 2 on N synthetic samples")
    parser.add_argument("--out", type=Path, help="append each result as a JSON line here")
    parser.add_argument("--base-nodes", type=int, default=10_000_000,
                        help="nodes of the 1x input (default 10 M; smaller for a smoke run)")
    args = parser.parse_args()
    BASE_NODES = args.base_nodes
    results = []
    for scale in args.scales:
        for mode in args.modes:
            result = measure(args.cache, scale, mode)
            results.append(result)
            print(json.dumps(result), flush=True)
            if args.out:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(result) + "\n")
    print(table(results))
    base = {r["scale"]: r for r in results if r["mode"] == "single" and r["ok"]}
    for r in results:
        if r["mode"] == "partitioned" and r["ok"] and base:
            ref = base.get(r["scale"]) or base[min(base)]
            print(f"{r['scale']}x partitioned: {r['patches_per_s']:,.0f} patches/s = "
                  f"{r['patches_per_s'] / ref['patches_per_s']:.2f} of the single-process rate "
                  f"(per CPU second: {r['patches_per_cpu_s'] / ref['patches_per_cpu_s']:.2f}) "
                  f"at {ref['scale']}x (target >= 0.90); peak RSS {r['build_peak_rss_mib']:,.0f} "
                  f"MiB (target <= 4 GB + 1 GB = 5,120 MiB)")
    if args.export:
        rates = export_rates(args.export)
        print(json.dumps(rates))
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps({"export": rates}) + "\n")


if __name__ == "__main__":
    main()
