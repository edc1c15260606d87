"""End to end with the deterministic `template` back end: provenance, resume, Task 3
revisions, --retry-rejected, the run summary, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from _caption_data import make_warehouse, write_prompts

from rsteller_db.caption import CaptionOptions, run_captions
from rsteller_db.prompts import template_hash
from rsteller_db.settings import load_settings


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts(tmp_path / "prompts")


def rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_template_run_stores_provenance_and_resumes(tmp_path, prompts):
    path = make_warehouse(tmp_path / "w.duckdb", 10, injection_every=5)
    summary = run_captions(path, CaptionOptions(backend="template", prompts_dir=prompts))
    # 10 Task 1/2 requests: patches 5 and 10 carry an injected name and are rejected;
    # the 8 accepted ones each get one Task 3 revision.
    assert (summary.requests, summary.accepted, summary.rejected, summary.failed) == (18, 16, 2, 0)
    assert summary.rejected_by_reason == {"instruction_echo": 2}
    got = rows(
        path,
        "select caption_id, request_id, patch_id, task, attempt, annotator, backend, "
        "prompt_name, prompt_hash, sampling, status, reject_reason, run_id "
        "from captions order by caption_id",
    )
    assert len(got) == 18
    by_id = {r[0]: r for r in got}
    first = by_id["1-t1-a1"]
    assert first[1:9] == (
        "1-t1",
        1,
        1,
        1,
        "rsteller-db/template",
        "template",
        "task1_area",
        template_hash("task1_area", prompts),
    )
    assert set(json.loads(first[9])) == {"temperature", "top_p", "max_tokens", "seed"}
    assert first[10:12] == ("accepted", None) and first[12] == summary.run_id
    assert by_id["5-t1-a1"][10:12] == ("rejected", "instruction_echo")
    assert by_id["2-t3-1-a1"][3] == 3 and by_id["2-t3-1-a1"][8] == template_hash(
        "task3_revision", prompts
    )
    assert "5-t3-1-a1" not in by_id  # no revision of a rejected caption
    run = rows(
        path,
        "select status, requests, accepted, rejected, failed, rejected_by_reason "
        "from _meta.caption_runs",
    )
    assert run[0][:5] == ("finished", 18, 16, 2, 0)
    assert json.loads(run[0][5]) == {"instruction_echo": 2}

    again = run_captions(path, CaptionOptions(backend="template", prompts_dir=prompts))
    assert again.requests == 0
    assert rows(path, "select count(*) from captions") == [(18,)]
    assert rows(path, "select count(*) from _meta.caption_runs") == [(2,)]


def test_revisions_per_patch_setting_and_deterministic_examples(tmp_path, prompts):
    path = make_warehouse(tmp_path / "w.duckdb", 4)
    settings = load_settings(overrides={"revisions_per_patch": 3})
    run_captions(path, CaptionOptions(backend="template", prompts_dir=prompts), settings=settings)
    ids = [r[0] for r in rows(path, "select request_id from captions where task = 3 order by 1")]
    assert ids == [f"{p}-t3-{k}" for p in (1, 2, 3, 4) for k in (1, 2, 3)]
    keys = rows(
        path, "select request_id, payload->>'examples_key' from revision_requests order by 1"
    )
    assert keys == rows(
        path, "select request_id, payload->>'examples_key' from revision_requests order by 1"
    )
    assert len({k for _, k in keys}) == len(keys)  # a different draw per patch and k


def test_retry_rejected_asks_again_with_another_seed(tmp_path, prompts):
    path = make_warehouse(tmp_path / "w.duckdb", 5, injection_every=5, revisions=False)
    opts = CaptionOptions(backend="template", prompts_dir=prompts, tasks=(1, 2), retry_rejected=2)
    summary = run_captions(path, opts)
    assert (summary.accepted, summary.rejected) == (4, 3)  # patch 5: first try + 2 retries
    tries = rows(
        path,
        "select attempt, status, sampling->>'seed' from captions "
        "where request_id = '5-t1' order by attempt",
    )
    assert [t[:2] for t in tries] == [(1, "rejected"), (2, "rejected"), (3, "rejected")]
    assert len({t[2] for t in tries}) == 3
    assert run_captions(path, opts).requests == 0  # the budget of retries is spent
    more = run_captions(
        path,
        CaptionOptions(backend="template", prompts_dir=prompts, tasks=(1, 2), retry_rejected=3),
    )
    assert (more.requests, more.rejected) == (1, 1)
    assert rows(path, "select max(attempt) from captions where request_id = '5-t1'") == [(4,)]


def test_cli_caption_summary_limit_and_errors(cli, tmp_path, prompts):
    path = make_warehouse(tmp_path / "w.duckdb", 6)
    out = cli(
        "-w",
        str(path),
        "-q",
        "caption",
        "--backend",
        "template",
        "--prompts",
        str(prompts),
        "--tasks",
        "1,2",
        "--limit",
        "4",
        "--format",
        "json",
    )
    assert out.exit_code == 0, out.output
    summary = {r["item"]: r["value"] for r in json.loads(out.output)}
    assert (summary["requests"], summary["accepted"], summary["failed"]) == (4, 4, 0)
    assert summary["annotator"] == "rsteller-db/template"
    assert rows(path, "select count(*) from captions") == [(4,)]

    bad = cli("-w", str(path), "caption", "--backend", "template", "--tasks", "4")
    assert bad.exit_code == 2 and "'4': give tasks among 1, 2, 3, e.g. --tasks 1,2" in bad.output
    missing = cli("-w", str(tmp_path / "none.duckdb"), "caption", "--backend", "template")
    assert missing.exit_code == 1
    assert missing.output == (
        f"Error: no warehouse at {tmp_path / 'none.duckdb'}: run `rsteller-db init` "
        "and `rsteller-db build` first\n"
    )


def test_missing_requests_relation_names_the_fix(cli, tmp_path, prompts):
    cli("-w", "w.duckdb", "init")
    out = cli("-w", "w.duckdb", "caption", "--backend", "template", "--prompts", str(prompts))
    assert out.exit_code == 1
    assert out.output == "Error: no caption_requests in w.duckdb: run `rsteller-db build` first\n"
