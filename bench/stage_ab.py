"""A/B of one SQL stage: its text at a git revision against the working tree, on one warehouse.

Both versions run in the same process, in turns (``--rounds`` each, the order alternating), as
``create temp table ... as <stage select>`` over the warehouse opened read-only, so the ratio
holds on a noisy machine. It prints each version's median seconds, its row count (they must
agree) and old / new.

    python bench/stage_ab.py warehouse/rsteller.duckdb \
        sql/30_intermediate/22_int_elements_hidden.sql --rev 734077a
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from rsteller_db.warehouse import load_spatial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("stage", type=Path, help="the stage's file, relative to the repository")
    parser.add_argument("--rev", required=True, help="git revision of the old version")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    old = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.rev}:{args.stage}"],
                         check=True, capture_output=True, text=True).stdout
    # a stage file is one SELECT under its comment header, run as it stands (as the runner does)
    versions = {"old": old, "new": (ROOT / args.stage).read_text()}
    con = duckdb.connect()
    load_spatial(con)
    con.execute(f"ATTACH '{args.warehouse}' AS w (READ_ONLY)")
    con.execute("USE w")
    times: dict[str, list[float]] = {"old": [], "new": []}
    rows: dict[str, int] = {}
    for i in range(args.rounds):
        for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
            con.execute(f"drop table if exists temp.ab_{name}")
            start = time.perf_counter()
            con.execute(f"create temp table ab_{name} as {versions[name]}")
            times[name].append(time.perf_counter() - start)
            rows[name] = con.execute(f"select count(*) from temp.ab_{name}").fetchone()[0]
    for name in ("old", "new"):
        print(f"{name}: median {statistics.median(times[name]):.2f} s of {args.rounds}, "
              f"{rows[name]:,} rows")
    if rows["old"] != rows["new"]:
        sys.exit("the two versions give different row counts")
    print(f"old / new: {statistics.median(times['old']) / statistics.median(times['new']):.1f}x")


if __name__ == "__main__":
    main()
