"""Captioning at scale: time to the first committed caption, captions/s and peak RSS of
``rsteller-db caption`` at 76 k, 300 k and 1.2 M requests, and how busy it keeps GPU-like servers.

Warehouses come from ``bench/scale_world.py`` (the real stages over a synthetic town grid and
NAIP-sized rasters, ``sample_interval = 1``; about 7,400 Task 2 requests per million OSM nodes,
each with one Task 3 revision, four for the 1.2 M size), built once into ``--cache`` and copied
for every run. Each run is the CLI in its own process, as a user runs it (``--backend template
--tasks 1,2,3``, with the settings the warehouse was built with): the peak RSS is that
process's (``wait4``), the first caption is the first row another process can read from
``captions`` (counted from the process start, imports included), and the committed count is
sampled every 5 s so the rate of the run's first and second half can be compared.

The rule set is a choice: ``--rules no-verifier`` (default) runs the format and text rules,
``--rules all`` also the payload-reading verifier rules (``-- kind: verifier``), whose cost
per caption is far above the runner's; ``--verifier-sample N`` measures a run of N requests with
every rule beside the sized runs, so both costs are on record.

Busy share: ``--servers K`` loopback SGLang servers (``tests/_gpu_server.py``, each in its own
process) answer in rounds of ``--capacity`` prompts taking ``--round-s`` + ``--token-s`` per new
token; the ``sglang`` back end captions ``--busy-requests`` requests of the smallest warehouse
against them, and each server reports the share of the time from its first prompt to its last
answer it spent in rounds (target: at least 95 %) and how full its rounds were.

    python bench/caption_scale.py                          # 76k, 300k; busy share on 4 servers
    python bench/caption_scale.py --sizes 76k,300k,1.2m    # the 1.2 M warehouse: 33 M nodes
    python bench/caption_scale.py --sizes 76k --servers 0  # one size, no servers
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
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import scale_world  # noqa: E402

from rsteller_db.caption.rules import RULES_DIR, load_rules  # noqa: E402

SETTINGS = {"sample_interval": 1, "memory_limit": "6GB"}
# size -> (OSM nodes, settings of its build and caption run). 1.2 M requests come from 33 M nodes
# with four revisions per accepted caption (244 k Task 2 requests + 976 k Task 3), a world a
# quarter the size of one with one revision each, which this machine builds in minutes
SIZES = {
    "76k": (5_000_000, SETTINGS),
    "300k": (20_000_000, SETTINGS),
    "1.2m": (33_000_000, {**SETTINGS, "revisions_per_patch": 4}),
}
SAMPLE_S = 5.0


def rules_folder(which: str, scratch: Path) -> Path:
    """The project's rules, or a copy without the verifier rules."""
    if which == "all":
        return RULES_DIR
    folder = scratch / "rules-no-verifier"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(RULES_DIR, folder)
    for rule in load_rules(RULES_DIR):
        if rule.kind == "verifier":
            (folder / rule.path.name).unlink()
    return folder


def _committed(path: Path) -> int | None:
    """Captions another process can read now, or None while the run holds the file."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("SELECT count(*) FROM captions").fetchone()[0]
    except duckdb.Error:
        return None


def caption_run(warehouse: Path, scratch: Path, args: list[str], label: str) -> dict:
    """``rsteller-db caption ARGS`` on a fresh copy of ``warehouse``, with the settings it was
    built with (``rsteller.toml`` beside it), measured from outside."""
    run = scratch / f"{label}.duckdb"
    shutil.copyfile(warehouse, run)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rsteller_db", "-q", "--config",
           str(warehouse.parent / "rsteller.toml"), "-w", str(run), "caption", *args,
           "--format", "json"]
    out_file, err_file = scratch / f"{label}.out", scratch / f"{label}.err"
    t0 = time.monotonic()
    with out_file.open("w") as out, err_file.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
    first: list[float] = []
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            n, now = _committed(run), time.monotonic() - t0
            if n and not first:
                first.append(now)
            if n is not None and (not samples or now - samples[-1][0] >= SAMPLE_S):
                samples.append((now, n))
            stop.wait(0.1 if not first else 1.0)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak RSS
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    stop.set()
    watcher.join()
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{label}: caption run failed ({proc.returncode}):\n"
                         f"{err_file.read_text()[-2000:]}")
    summary = {row["item"]: row["value"] for row in json.loads(out_file.read_text())}
    with duckdb.connect(str(run), read_only=True) as con:
        runs = con.execute(
            "SELECT sum(accepted + rejected + failed), sum(wall_s) FROM _meta.caption_runs"
        ).fetchone()
    run.unlink()
    half = _halves(samples)
    return {
        "label": label,
        "requests": int(summary["requests"]),
        "captions": int(runs[0]),
        "first_caption_s": first[0] if first else None,
        "wall_s": wall,
        "captions_per_s": runs[0] / runs[1],
        "first_half_per_s": half[0],
        "second_half_per_s": half[1],
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def _halves(samples: list[tuple[float, int]]) -> tuple[float | None, float | None]:
    """Committed captions per second in the first and the second half of the sampled span."""
    if len(samples) < 3:
        return None, None
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    mid = min(samples, key=lambda s: abs(s[0] - (t0 + t1) / 2))
    if mid[0] in (t0, t1):
        return None, None
    return (mid[1] - n0) / (mid[0] - t0), (n1 - mid[1]) / (t1 - mid[0])


def busy_share(warehouse: Path, scratch: Path, rules: Path, args) -> list[dict]:
    """The sglang back end against ``args.servers`` GPU-like servers, each in its own process."""
    servers = []
    try:
        for _ in range(args.servers):
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "_gpu_server.py"), "--port", "0",
                 "--capacity", str(args.capacity), "--round-s", str(args.round_s),
                 "--token-s", str(args.token_s)],
                stdout=subprocess.PIPE, text=True)
            servers.append((proc, proc.stdout.readline().strip()))
        urls = [a for _, url in servers for a in ("--url", url)]
        run = caption_run(
            warehouse, scratch,
            ["--backend", "sglang", *urls, "--chat-format", "raw", "--tasks", "1,2",
             "--limit", str(args.busy_requests), "--concurrency", str(args.concurrency),
             "--batch-size", str(args.batch_size), "--max-tokens", str(args.max_tokens),
             "--rules", str(rules)],
            "busy",
        )
        figures = []
        import httpx

        for _, url in servers:
            figures.append(httpx.get(url + "/figures", timeout=10).json() | {"url": url})
        print(f"  sglang run: {run['captions']:,} captions in {run['wall_s']:.1f} s = "
              f"{run['captions_per_s']:.0f}/s, peak RSS {run['peak_rss_mb']:.0f} MB", flush=True)
        return figures
    finally:
        for proc, _ in servers:
            proc.kill()
            proc.wait()


def _fmt(value, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="76k,300k", help=f"among {', '.join(SIZES)}")
    parser.add_argument("--cache", type=Path, default=scale_world.DEFAULT_CACHE)
    parser.add_argument("--rules", choices=("no-verifier", "all"), default="no-verifier")
    parser.add_argument("--verifier-sample", type=int, default=5000, metavar="N",
                        help="also caption N requests with every rule (0: skip)")
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--capacity", type=int, default=64, help="prompts per server round")
    parser.add_argument("--round-s", type=float, default=0.2)
    parser.add_argument("--token-s", type=float, default=0.005)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--busy-requests", type=int, default=30_000)
    args = parser.parse_args()
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    scratch = args.cache / "runs"
    scratch.mkdir(parents=True, exist_ok=True)
    rules = rules_folder(args.rules, scratch)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"rules: {args.rules}", flush=True)
    results = []
    for size in sizes:
        nodes, settings = SIZES[size]
        warehouse = scale_world.build(args.cache, nodes, settings)
        built = json.loads((warehouse.parent / "built.json").read_text())
        print(f"{size}: warehouse of {nodes:,} nodes, {built['images']} images "
              f"({warehouse.stat().st_size / 2**30:.1f} GiB), settings {settings}", flush=True)
        r = caption_run(warehouse, scratch,
                        ["--backend", "template", "--tasks", "1,2,3", "--rules", str(rules)], size)
        results.append(r)
        print(f"  {r['requests']:,} requests, {r['captions']:,} captions: first caption "
              f"{_fmt(r['first_caption_s'], '.1f')} s, {r['captions_per_s']:.0f} captions/s "
              f"(first half {_fmt(r['first_half_per_s'], '.0f')}, second half "
              f"{_fmt(r['second_half_per_s'], '.0f')}), whole run {r['wall_s']:.0f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    if results:
        base = results[0]["captions_per_s"]
        print("captions/s as a ratio to the smallest size: " + ", ".join(
            f"{r['label']} {r['captions_per_s'] / base:.2f}" for r in results))
    if args.verifier_sample and sizes:
        warehouse = scale_world.build(args.cache, *SIZES[sizes[0]])
        r = caption_run(warehouse, scratch,
                        ["--backend", "template", "--tasks", "1,2",
                         "--limit", str(args.verifier_sample)], "verifier")
        print(f"every rule (verifier included), {r['captions']:,} captions: "
              f"{r['captions_per_s']:.1f} captions/s, first caption "
              f"{_fmt(r['first_caption_s'], '.1f')} s", flush=True)
    if args.servers and sizes:
        warehouse = scale_world.build(args.cache, *SIZES[sizes[0]])
        print(f"busy share: {args.servers} servers x {args.capacity} prompts per round of "
              f"{args.round_s} s + {args.token_s} s x {args.max_tokens} tokens; "
              f"--concurrency {args.concurrency} --batch-size {args.batch_size}", flush=True)
        for f in busy_share(warehouse, scratch, rules, args):
            print(f"  {f['url']}: busy {100 * f['busy_share']:.1f} % of {f['span_s']:.1f} s, "
                  f"rounds {100 * f['fill']:.0f} % full, {f['prompts']:,} prompts, "
                  f"at most {f['max_open']} requests open", flush=True)


if __name__ == "__main__":
    main()
