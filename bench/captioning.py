"""Caption throughput: the `openai` back end against a llama.cpp server (SmolLM2-135M) at
concurrency 1 (the baseline) and at the configured concurrency, and the `template` back end's
rate (the pipeline alone: render, rules, batched commits), all in the same run.

    python bench/captioning.py                     # 8 LLM requests, 2000 template requests
    python bench/captioning.py --llm-requests 24 --concurrency 4 --prompts real

Payloads are shaped like the caption_requests mart's. ``--prompts short`` (default) uses the
tests' one-paragraph templates, so a run on a small CPU takes minutes; ``--prompts real`` uses
prompts/ (five worked examples each, about 1,400 tokens, where the prompt cache matters).
Figures: captions/s, tokens/s, the concurrency speed-up as a ratio to concurrency 1, and the
pipeline overhead per caption as a share of the model time per caption (target: under 5 %).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _caption_data import make_warehouse, write_prompts  # noqa: E402

from rsteller_db.caption import CaptionOptions, Sampling, run_captions  # noqa: E402
from rsteller_db.caption import llama_server as llama  # noqa: E402
from rsteller_db.paths import PROMPTS_DIR  # noqa: E402


def run(folder: Path, name: str, n: int, options: CaptionOptions):
    path = make_warehouse(folder / f"{name}.duckdb", n, revisions=False)
    summary = run_captions(path, options)
    done = summary.accepted + summary.rejected
    print(
        f"{name:<22} {done:>5} captions in {summary.wall_s:7.2f} s = {summary.captions_per_s:8.3f} "
        f"captions/s, {summary.tokens_per_s:6.1f} tok/s out (rejected {summary.rejected}, "
        f"failed {summary.failed})",
        flush=True,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-requests", type=int, default=8)
    parser.add_argument("--template-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--prompts", choices=("short", "real"), default="short")
    args = parser.parse_args()
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
