"""Progress in a log (stderr not a terminal): plain lines now and then, no redrawn bar."""

from __future__ import annotations

import re
import time

from rsteller_db.progress import Reporter


def test_a_bar_in_a_log_prints_readable_lines_with_rate_eta_and_note(capsys):
    reporter = Reporter(quiet=False, line_every_s=0.2)
    with reporter.bar("captions Task 1/2", total=1000) as bar:
        bar.note("0 accepted · 0 rejected")
        time.sleep(0.3)  # a line before anything is done
        for i in range(1, 6):
            time.sleep(0.1)
            bar.advance(100)
            bar.note(f"{i * 90} accepted · {i * 10} rejected")
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert len(lines) >= 3
    assert lines[0].startswith("captions Task 1/2: 0/1,000 (0.0%) · 0.00/s · elapsed 0s")
    assert lines[0].endswith("· 0 accepted · 0 rejected")
    last = re.fullmatch(
        r"captions Task 1/2: 500/1,000 \(50\.0%\) · ([\d,.]+)/s · ETA (\d+)s · elapsed \d+s"
        r" · 450 accepted · 50 rejected",
        lines[-1],
    )
    assert last, lines[-1]
    assert 100 < float(last.group(1).replace(",", "")) < 2000  # 500 in about 0.8 s


def test_quiet_prints_nothing(capsys):
    with Reporter(quiet=True).bar("work", total=3) as bar:
        bar.advance(3)
    assert capsys.readouterr().err == ""
