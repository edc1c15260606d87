"""Faults: a loopback server that times out, answers 500/503, drops connections and returns
empty text on purpose. Retries happen, failures are recorded, the run finishes."""

from __future__ import annotations

import duckdb
from _caption_data import make_warehouse, write_prompts
from _llm_servers import faulty_server  # noqa: F401 (fixture)

from rsteller_db.caption import CaptionOptions, run_captions


def test_retries_then_failures_recorded_and_the_run_finishes(cli, tmp_path, faulty_server):  # noqa: F811
    path = make_warehouse(tmp_path / "w.duckdb", 8, revisions=False)
    prompts = write_prompts(tmp_path / "prompts")
    opts = CaptionOptions(
        backend="openai",
        urls=(faulty_server.url,),
        tasks=(1, 2),
        concurrency=4,
        timeout_s=0.5,
        retries=3,
        backoff_s=0.05,
        prompts_dir=prompts,
    )
    summary = run_captions(path, opts)

    hits = faulty_server.hits
    assert hits["patch 1 "] == 2  # timed out once, then answered
    assert hits["patch 2 "] == 3  # 500 twice, then answered
    assert hits["patch 3 "] == 2  # connection dropped once, then answered
    assert hits["patch 4 "] == 4  # 503 on every try: 1 + 3 retries
    assert hits["patch 5 "] == 1  # empty text is a rejection, not a transport fault
    assert (summary.requests, summary.accepted, summary.rejected, summary.failed) == (8, 6, 1, 1)
    assert summary.rejected_by_reason == {"empty_text": 1}
    with duckdb.connect(str(path), read_only=True) as con:
        got = dict(
            con.execute(
                "select request_id, status || ':' || coalesce(reject_reason, '') from captions"
            ).fetchall()
        )
        run = con.execute("select status, failed, rejected from _meta.caption_runs").fetchall()
    assert got["4-t2"].startswith("failed:HTTP 503 from http://127.0.0.1:") and got[
        "4-t2"
    ].endswith("(4 tries)")
    assert got["5-t1"] == "rejected:empty_text"
    assert all(got[r] == "accepted:" for r in ("1-t1", "2-t2", "3-t1", "6-t2", "7-t1", "8-t2"))
    assert run == [("finished", 1, 1)]

    # The next run asks only for the failed request; the exit code and summary report it.
    out = cli(
        "-w",
        str(path),
        "-q",
        "caption",
        "--backend",
        "openai",
        "--url",
        faulty_server.url,
        "--tasks",
        "1,2",
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "--prompts",
        str(prompts),
        "--format",
        "csv",
    )
    assert out.exit_code == 2
    assert "requests,1\n" in out.output and "failed,1\n" in out.output
    assert out.output.endswith(
        "1 request(s) failed after retries; re-run the same command to ask for them again\n"
    )
    assert hits["patch 4 "] == 6 and hits["patch 1 "] == 2
