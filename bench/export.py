"""Benchmark: `export --format wds` against a bare loop that copies the cached JPEGs into a tar.

Both read the same cached patch JPEGs of a synthetic warehouse, in the same run. The bare loop
writes one tar member per JPEG and nothing else; the export also queries the warehouse, writes
a JSON member beside every JPEG, the parquet sidecars, the stats files and the sha256 of every
shard, and fsyncs each file. Each timed run starts with no output on disk (earlier output is
removed, untimed, before it). The figures are samples per wall second, best of ``--repeat``
rounds, and the median over rounds of the export's rate over the bare loop's in the same round;
on a shared machine they swing with other work, so samples per CPU second of this process (all
its threads) are printed too. Peak memory of the export is measured in a fresh process at N and
10 N samples.

    python bench/export.py            # N = 5000, memory at 2,000 and 20,000
    python bench/export.py --n 500    # quicker
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))  # export_world

from export_world import synthetic_warehouse  # noqa: E402

from rsteller_db.export import ExportHelpers, ExportOptions, export_dataset  # noqa: E402
from rsteller_db.warehouse import Warehouse  # noqa: E402


def bare_loop(warehouse: Path, out: Path) -> int:
    """Read every cached JPEG in patch order and append it to one tar: the floor to beat."""
    with Warehouse(warehouse, read_only=True) as wh:
        paths = [wh.data_dir / p for (p,) in wh.con.execute(
            "SELECT path FROM patch_images WHERE status = 'ok' ORDER BY patch_id").fetchall()]
    count = 0
    with tarfile.open(out, "w") as tar:
        for path in paths:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.stem + ".jpg")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            count += 1
    return count


def export_once(warehouse: Path, out: Path, shard_size: int, workers: int = 1) -> int:
    """One export as the CLI runs it: helpers (if any) started, then the warehouse opened."""
    options = ExportOptions(shard_size=shard_size, overwrite=True, workers=workers)
    with ExportHelpers.for_options(options) as helpers, \
            Warehouse(warehouse, read_only=True) as wh:
        result = export_dataset(wh, out, options, helpers=helpers)
    return result.samples


def clear_outputs(root: Path) -> None:
    """Remove what earlier runs wrote, so that no contender pays for deleting old output."""
    (root / "bare.tar").unlink(missing_ok=True)
    shutil.rmtree(root / "export", ignore_errors=True)
    os.sync()


def timed(fn, *args) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process (all its threads) and the count ``fn`` returns."""
    start, cpu = time.perf_counter(), time.process_time()
    count = fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu, count


def peak_rss_mib(warehouse: Path, out: Path, shard_size: int) -> float:
    """Peak resident memory of an export (one process) in a fresh interpreter."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[1]);"
        "from bench.export import export_once; from pathlib import Path;"
        "export_once(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(REPO), str(warehouse), str(out),
                           str(shard_size)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="samples timed")
    parser.add_argument("--mem-n", type=int, default=2000,
                        help="peak memory is measured at this many samples and at 10x")
    parser.add_argument("--shard-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed rounds, each running every contender once (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        timed_wh = root / "timed" / "rsteller.duckdb"
        small, large = root / "n" / "rsteller.duckdb", root / "10n" / "rsteller.duckdb"
        for path, n in ((timed_wh, args.n), (small, args.mem_n), (large, 10 * args.mem_n)):
            path.parent.mkdir()
            synthetic_warehouse(path, n, revisions=1, link_images=path != timed_wh)
        # warm the page cache and the imports of both contenders before timing
        bare_loop(timed_wh, root / "bare.tar")
        export_once(timed_wh, root / "export", args.shard_size)
        contenders = {
            "bare": lambda: bare_loop(timed_wh, root / "bare.tar"),
            "export": lambda: export_once(timed_wh, root / "export", args.shard_size),
            "export_2_workers": lambda: export_once(timed_wh, root / "export", args.shard_size, 2),
        }
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        cpu_rates: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, run in contenders.items():
                clear_outputs(root)  # each contender writes into an empty place, untimed
                seconds, cpu_seconds, count = timed(run)
                rates[name].append(count / seconds)
                cpu_rates[name].append(count / cpu_seconds)
        rss_small = peak_rss_mib(small, root / "mem-n", args.shard_size)
        rss_large = peak_rss_mib(large, root / "mem-10n", args.shard_size)
    best = {name: max(values) for name, values in rates.items()}
    best_cpu = {name: max(values) for name, values in cpu_rates.items()}
    # each round times the bare loop and the export back to back: the ratio within a round
    # is disturbed less by the machine's changing load than best against best
    paired = statistics.median(e / b for e, b in zip(rates["export"], rates["bare"], strict=True))
    # the target of --workers: faster than one process, in the same rounds
    workers_paired = statistics.median(
        w / e for w, e in zip(rates["export_2_workers"], rates["export"], strict=True))
    report = {
        "samples": args.n,
        "bare_loop_samples_per_s": round(best["bare"]),
        "export_wds_samples_per_s": round(best["export"]),
        "export_wds_2_workers_samples_per_s": round(best["export_2_workers"]),
        "export_vs_bare": round(best["export"] / best["bare"], 3),
        "export_vs_bare_median_of_rounds": round(paired, 3),
        "export_2_workers_vs_bare": round(best["export_2_workers"] / best["bare"], 3),
        "export_2_workers_vs_1": round(best["export_2_workers"] / best["export"], 3),
        "export_2_workers_vs_1_median_of_rounds": round(workers_paired, 3),
        "export_vs_bare_cpu": round(best_cpu["export"] / best_cpu["bare"], 3),
        "peak_rss_mib_n": round(rss_small, 1),
        "peak_rss_mib_10n": round(rss_large, 1),
        "peak_rss_10n_vs_n": round(rss_large / rss_small, 3),
        "all_rates": {name: [round(v) for v in values] for name, values in rates.items()},
    }
    print(json.dumps(report, indent=2))
    print(f"export --format wds: {best['export']:.0f} samples/s (1 process), "
          f"{best['export_2_workers']:.0f} (--workers 2); bare tar loop {best['bare']:.0f}: "
          f"ratio {report['export_vs_bare']:.2f} / {report['export_2_workers_vs_bare']:.2f} "
          f"(target >= 0.80; median of the {args.repeat} rounds' ratios {paired:.2f}), "
          f"per CPU second {report['export_vs_bare_cpu']:.2f}; --workers 2 over 1 process "
          f"{report['export_2_workers_vs_1']:.2f} (median of rounds {workers_paired:.2f}, "
          f"target > 1); "
          f"peak RSS {rss_small:.0f} MiB at {args.mem_n} samples, "
          f"{rss_large:.0f} MiB at {10 * args.mem_n}: ratio {report['peak_rss_10n_vs_n']:.2f}")


if __name__ == "__main__":
    main()
