"""A caption run's progress in a log (stderr not a terminal): readable lines with done/total,
the rate and the accepted/rejected/failed counts, never a redrawn bar."""

from __future__ import annotations

import re


def test_caption_progress_lines_in_a_log(cli, caption_world, caption_copy, test_prompts):
    chosen = caption_world.requests[:40]
    out = cli("-w", str(caption_copy), "caption", "--backend", "template", "--tasks", "1,2",
              "--prompts", str(test_prompts), "--where", caption_world.where(chosen),
              "--format", "csv")
    assert out.exit_code == 0, out.output
    assert "\r" not in out.output and "\x1b" not in out.output
    lines = [line for line in out.output.splitlines() if line.startswith("captions Task 1/2:")]
    assert lines, out.output
    assert re.fullmatch(
        r"captions Task 1/2: 40/40 \(100\.0%\) · [\d,.]+/s · elapsed \d+s"
        r" · (\d+) accepted · (\d+) rejected · 0 failed",
        lines[-1],
    ), lines[-1]
    accepted, rejected = map(int, re.findall(r"(\d+) (?:accepted|rejected)", lines[-1]))
    assert accepted + rejected == 40 and rejected == 1  # the one injected name in 40
    assert "[1] Task 1/2: 40 request(s) to caption with template" in out.output
