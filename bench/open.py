"""Opening a warehouse: spatial loaded with its signature checked on every open, against
``spatial_connect`` (checked once per process).

Both ways open the same file read-only, in turns (``--rounds`` each, alternating), in one
process, so the ratio holds on a noisy machine. It prints each way's median milliseconds per
open and checked / once.

    python bench/open.py --rounds 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from rsteller_db.warehouse import Warehouse, load_spatial, spatial_connect  # noqa: E402


def checked_every_time(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    load_spatial(con)
    con.execute("SELECT count(*) FROM t WHERE ST_Area(g) > 0").fetchone()
    con.close()


def checked_once(path: Path) -> None:
    con = spatial_connect(path, read_only=True)
    con.execute("SELECT count(*) FROM t WHERE ST_Area(g) > 0").fetchone()
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.duckdb"
        with Warehouse(path) as wh:
            wh.con.execute("CREATE TABLE t AS SELECT ST_Buffer(ST_Point(i, i), 1) AS g "
                           "FROM range(1000) r(i)")
        ways = {"checked": checked_every_time, "once": checked_once}
        times: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(args.rounds):
            order = list(ways) if i % 2 == 0 else list(reversed(ways))
            for name in order:
                start = time.perf_counter()
                ways[name](path)
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, value in median.items():
        print(f"{name:>8}: {value * 1000:7.1f} ms per open (median of {args.rounds})")
    print(f"checked / once: {median['checked'] / median['once']:.1f}x")


if __name__ == "__main__":
    main()
