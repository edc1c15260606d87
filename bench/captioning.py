"""Caption throughput and caption quality per back end.

Throughput (default): the `openai` back end against a llama.cpp server (SmolLM2-135M) at
concurrency 1 (the baseline) and at the configured concurrency, and the `template` back end's
rate (the pipeline alone: render, rules, batched commits), all in the same run. Each line also
splits the rejections into format rules (what constrained decoding prevents) and verifier rules
(captions untrue to their facts).

    python bench/captioning.py                     # 8 LLM requests, 2000 template requests
    python bench/captioning.py --llm-requests 24 --concurrency 4 --prompts real

Quality (``--compare``): the bundled sample (19 Task 1/2 requests, then the Task 3 revisions of
what is accepted, real prompts) captioned by each embedded model in chat and raw-completion
mode, with and without a grammar, each on its own copy of the same warehouse: the share of
attempts accepted, format and verifier rejections, seconds per caption.

    python bench/captioning.py --compare           # 2 models x 2 modes x 2 grammars
    python bench/captioning.py --compare --limit 8 # the first 8 requests of each phase
    python bench/captioning.py --compare --models gemma3-270m --modes completion

The throughput runs caption a world the real stages build with one request per patch
(tests/caption_world.py), once per size, each run on its own copy. ``--prompts short``
(default) uses the tests' one-paragraph templates, so a run on a small CPU takes minutes;
``--prompts real`` uses prompts/ (five worked examples each, about 1,400 tokens, where the
prompt cache matters).
Figures: captions/s, tokens/s, the concurrency speed-up as a ratio to concurrency 1, and the
pipeline overhead per caption as a share of the model time per caption (target: under 5 %).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from caption_world import World, build_world, write_prompts  # noqa: E402

from rsteller_db.caption import CaptionOptions, Sampling, load_rules, run_captions  # noqa: E402
from rsteller_db.caption import llama_server as llama  # noqa: E402
from rsteller_db.caption.backends.local import DEFAULT_MODEL, EMBEDDED  # noqa: E402
from rsteller_db.paths import PROMPTS_DIR  # noqa: E402

KINDS = {rule.name: rule.kind for rule in load_rules()}


def split(reasons) -> dict[str, int]:
    """Rejections by kind of rule: format, verifier, text."""
    out = dict.fromkeys(("format", "verifier", "text"), 0)
    for reason, n in reasons.items():
        out[KINDS.get(reason, "text")] += n
    return out


_WORLDS: dict[int, World] = {}  # requests -> the world built for that many, once


def run(folder: Path, name: str, n: int, options: CaptionOptions):
    if n not in _WORLDS:
        _WORLDS[n] = build_world(folder / f"world-{n}", n)
    path = _WORLDS[n].copy(folder / name.replace(" ", "_"))
    summary = run_captions(path, options)
    done = summary.accepted + summary.rejected
    kinds = split(summary.rejected_by_reason)
    print(
        f"{name:<22} {done:>5} captions in {summary.wall_s:7.2f} s = {summary.captions_per_s:8.3f} "
        f"captions/s, {summary.tokens_per_s:6.1f} tok/s out (rejected {summary.rejected}: "
        f"format {kinds['format']}, verifier {kinds['verifier']}, other {kinds['text']}; "
        f"failed {summary.failed})",
        flush=True,
    )
    return summary


def sample_warehouse(folder: Path) -> Path:
    """The bundled sample, built up to its caption requests (as `just build` does)."""
    path = folder / "sample.duckdb"
    steps = [
        ["sample", "--out", str(folder / "sample")],
        ["init"],
        ["ingest", "osm", str(folder / "sample" / "town.osm.pbf")],
        ["ingest", "naip", "--source", "local", str(folder / "sample")],
        ["build"],
    ]
    for step in steps:
        subprocess.run(
            [sys.executable, "-m", "rsteller_db", "-q", "-w", str(path), *step],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def compare(args) -> None:
    sampling = Sampling(temperature=0.7, top_p=0.95, max_tokens=args.max_tokens)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        base = sample_warehouse(folder)
        for model in args.models:
            for mode in args.modes:
                for grammar in ("grammar", "none"):
                    name = f"{model} {mode} {'grammar' if grammar == 'grammar' else 'free'}"
                    path = folder / f"{len(rows)}.duckdb"
                    shutil.copy(base, path)
                    options = CaptionOptions(
                        backend="local",
                        model=model,
                        prompt_mode=mode,
                        constrain=grammar,
                        sampling=sampling,
                    )
                    # the first --limit Task 1/2 requests, then the revisions of what passed
                    first = run_captions(path, replace(options, tasks=(1, 2), limit=args.limit))
                    then = run_captions(path, replace(options, tasks=(3,)))
                    summary = replace(
                        first,
                        accepted=first.accepted + then.accepted,
                        rejected=first.rejected + then.rejected,
                        wall_s=first.wall_s + then.wall_s,
                        rejected_by_reason=first.rejected_by_reason + then.rejected_by_reason,
                    )
                    with duckdb.connect(str(path), read_only=True) as con:
                        by_task = dict(
                            con.execute(
                                "select task = 3, count(*) filter (where status = 'accepted') "
                                "|| '/' || count(*) from captions group by all"
                            ).fetchall()
                        )
                    done = summary.accepted + summary.rejected
                    kinds = split(summary.rejected_by_reason)
                    row = {
                        "config": name,
                        "attempts": done,
                        "accepted": summary.accepted,
                        "accepted_pct": round(100 * summary.accepted / done, 1) if done else 0,
                        "task12": by_task.get(False, "0/0"),
                        "task3": by_task.get(True, "0/0"),
                        "format": kinds["format"],
                        "verifier": kinds["verifier"],
                        "other": kinds["text"],
                        "s_per_caption": round(summary.wall_s / done, 1) if done else None,
                        "reasons": dict(summary.rejected_by_reason.most_common()),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print("\n| configuration | accepted | Task 1/2 | Task 3 | format rej. | verifier rej. "
          "| other rej. | s/caption |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['config']} | {r['accepted']}/{r['attempts']} ({r['accepted_pct']} %) "
            f"| {r['task12']} | {r['task3']} | {r['format']} | {r['verifier']} | {r['other']} "
            f"| {r['s_per_caption']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-requests", type=int, default=8)
    parser.add_argument("--template-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--prompts", choices=("short", "real"), default="short")
    parser.add_argument("--compare", action="store_true", help="compare embedded models")
    parser.add_argument("--models", nargs="+",  # the default model first
                        default=sorted(EMBEDDED, key=lambda m: m != DEFAULT_MODEL))
    parser.add_argument("--modes", nargs="+", default=["chat", "completion"])
    parser.add_argument("--keep", metavar="DIR", help="keep the compared warehouses in DIR")
    parser.add_argument("--limit", type=int, help="--compare: at most N requests per config")
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return
    sampling = Sampling(temperature=0.7, top_p=0.95, max_tokens=args.max_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prompts = PROMPTS_DIR if args.prompts == "real" else write_prompts(folder / "prompts")
        common = {"tasks": (1, 2), "prompts_dir": prompts}
        llm = {**common, "sampling": sampling, "timeout_s": 600.0}
        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
            f"prompts: {args.prompts}",
            flush=True,
        )
        template = run(
            folder, "template", args.template_requests, CaptionOptions(backend="template", **common)
        )
        port = 18000 + os.getpid() % 1000
        server = llama.start(port, folder / "llama.log")
        try:
            url = f"http://127.0.0.1:{port}"
            base = run(
                folder,
                "openai c=1 (baseline)",
                args.llm_requests,
                CaptionOptions(backend="openai", urls=(url,), concurrency=1, **llm),
            )
            wide = run(
                folder,
                f"openai c={args.concurrency}",
                args.llm_requests,
                CaptionOptions(backend="openai", urls=(url,), concurrency=args.concurrency, **llm),
            )
        finally:
            llama.stop(server)
    speedup = wide.captions_per_s / base.captions_per_s if base.captions_per_s else float("nan")
    overhead = 100 * wide.captions_per_s / template.captions_per_s
    print(f"concurrency {args.concurrency} vs 1: {speedup:.2f}x captions/s")
    print(
        f"pipeline overhead per caption: {1000 / template.captions_per_s:.2f} ms = "
        f"{overhead:.2f} % of model time per caption "
        f"({1000 / wide.captions_per_s:.0f} ms); target < 5 %"
    )


if __name__ == "__main__":
    main()
