"""Faults: a loopback server that times out, answers 500/503, drops connections and returns
empty text on purpose. Retries happen, failures are recorded, the run finishes."""

from __future__ import annotations

import duckdb
from _llm_servers import faulty_server  # noqa: F401 (fixture)

from rsteller_db.caption import CaptionOptions, run_captions

FAULTS = ("timeout", "500", "drop", "503", "empty")  # on the first five of eight requests


def test_retries_then_failures_recorded_and_the_run_finishes(cli, caption_world, caption_copy,
                                                             test_prompts, faulty_server):  # noqa: F811
    path = caption_copy
    chosen = caption_world.clean(8)
    fault_of = dict(zip(FAULTS, chosen, strict=False))
    faulty_server.payloads = caption_world.payloads
    faulty_server.plan = {r.patch_id: fault for fault, r in fault_of.items()}
    where = caption_world.where(chosen)
    opts = CaptionOptions(
        backend="openai",
        urls=(faulty_server.url,),
        tasks=(1, 2),
        concurrency=4,
        timeout_s=0.5,
        retries=3,
        backoff_s=0.05,
        prompts_dir=test_prompts,
        where=where,
    )
    summary = run_captions(path, opts)

    hits = faulty_server.hits
    assert hits["timeout"] == 2  # timed out once, then answered
    assert hits["500"] == 3  # 500 twice, then answered
    assert hits["drop"] == 2  # connection dropped once, then answered
    assert hits["503"] == 4  # 503 on every try: 1 + 3 retries
    assert hits["empty"] == 1  # empty text is a rejection, not a transport fault
    assert (summary.requests, summary.accepted, summary.rejected, summary.failed) == (8, 6, 1, 1)
    assert summary.rejected_by_reason == {"empty_text": 1}
    with duckdb.connect(str(path), read_only=True) as con:
        got = dict(
            con.execute(
                "select request_id, status || ':' || coalesce(reject_reason, '') from captions"
            ).fetchall()
        )
        run = con.execute("select status, failed, rejected from _meta.caption_runs").fetchall()
    failed = got[fault_of["503"].request_id]
    assert failed.startswith("failed:HTTP 503 from http://127.0.0.1:") and failed.endswith(
        "(4 tries)")
    assert got[fault_of["empty"].request_id] == "rejected:empty_text"
    others = [r.request_id for r in chosen if r not in (fault_of["503"], fault_of["empty"])]
    assert len(got) == 8 and all(got[r] == "accepted:" for r in others)
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
        str(test_prompts),
        "--where",
        where,
        "--format",
        "csv",
    )
    assert out.exit_code == 2
    assert "requests,1\n" in out.output and "failed,1\n" in out.output
    assert out.output.endswith(
        "1 request(s) failed after retries; re-run the same command to ask for them again\n"
    )
    assert hits["503"] == 6 and hits["timeout"] == 2
