"""End to end with the deterministic `template` back end: provenance, resume, Task 3
revisions, --retry-rejected, the run summary, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from rsteller_db.caption import CaptionOptions, run_captions
from rsteller_db.prompts import template_hash
from rsteller_db.settings import load_settings


@pytest.fixture
def prompts(test_prompts: Path) -> Path:
    return test_prompts


def rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_template_run_stores_provenance_and_resumes(caption_world, caption_copy, prompts):
    path = caption_copy
    area, line, *more = caption_world.clean(8)
    injected = caption_world.injected()[:2]
    opts = CaptionOptions(backend="template", prompts_dir=prompts,
                          where=caption_world.where([area, line, *more, *injected]))
    summary = run_captions(path, opts)
    # 10 Task 1/2 requests: two carry an injected name and are rejected;
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
    first = by_id[f"{area.request_id}-a1"]
    assert first[1:9] == (
        area.request_id,
        area.patch_id,
        1,
        1,
        "rsteller-db/template",
        "template",
        "task1_area",
        template_hash("task1_area", prompts),
    )
    assert set(json.loads(first[9])) == {"temperature", "top_p", "max_tokens", "seed"}
    assert first[10:12] == ("accepted", None) and first[12] == summary.run_id
    assert all(by_id[f"{r.request_id}-a1"][10:12] == ("rejected", "instruction_echo")
               for r in injected)
    revision = by_id[f"{line.patch_id}-t3-1-a1"]
    assert revision[3] == 3 and revision[8] == template_hash("task3_revision", prompts)
    assert not any(f"{r.patch_id}-t3-1-a1" in by_id for r in injected)  # no revision of a
    #                                                                     rejected caption
    run = rows(
        path,
        "select status, requests, accepted, rejected, failed, rejected_by_reason "
        "from _meta.caption_runs",
    )
    assert run[0][:5] == ("finished", 18, 16, 2, 0)
    assert json.loads(run[0][5]) == {"instruction_echo": 2}

    again = run_captions(path, opts)
    assert again.requests == 0
    assert rows(path, "select count(*) from captions") == [(18,)]
    assert rows(path, "select count(*) from _meta.caption_runs") == [(2,)]


def test_revisions_per_patch_setting_and_deterministic_examples(caption_world, caption_copy,
                                                                prompts):
    path = caption_copy
    chosen = caption_world.clean(4)
    settings = load_settings(overrides={"revisions_per_patch": 3})
    run_captions(path, CaptionOptions(backend="template", prompts_dir=prompts,
                                      where=caption_world.where(chosen)), settings=settings)
    ids = [r[0] for r in rows(path, "select request_id from captions where task = 3 order by 1")]
    assert ids == sorted(f"{r.patch_id}-t3-{k}" for r in chosen for k in (1, 2, 3))
    keys = rows(
        path, "select request_id, payload->>'examples_key' from revision_requests order by 1"
    )
    assert keys == rows(
        path, "select request_id, payload->>'examples_key' from revision_requests order by 1"
    )
    assert len({k for _, k in keys}) == len(keys)  # a different draw per patch and k


def test_retry_rejected_asks_again_with_another_seed(caption_world, caption_copy, prompts):
    path = caption_copy
    injected = caption_world.injected()[0]
    where = caption_world.where([*caption_world.clean(4), injected])
    opts = CaptionOptions(backend="template", prompts_dir=prompts, tasks=(1, 2), retry_rejected=2,
                          where=where)
    summary = run_captions(path, opts)
    assert (summary.accepted, summary.rejected) == (4, 3)  # the injected: first try + 2 retries
    tries = rows(
        path,
        "select attempt, status, sampling->>'seed' from captions "
        f"where request_id = '{injected.request_id}' order by attempt",
    )
    assert [t[:2] for t in tries] == [(1, "rejected"), (2, "rejected"), (3, "rejected")]
    assert len({t[2] for t in tries}) == 3
    assert run_captions(path, opts).requests == 0  # the budget of retries is spent
    more = run_captions(
        path,
        CaptionOptions(backend="template", prompts_dir=prompts, tasks=(1, 2), retry_rejected=3,
                       where=where),
    )
    assert (more.requests, more.rejected) == (1, 1)
    assert rows(path, "select max(attempt) from captions "
                f"where request_id = '{injected.request_id}'") == [(4,)]


def test_cli_caption_summary_limit_and_errors(cli, tmp_path, caption_world, caption_copy,
                                              prompts):
    path = caption_copy
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
        "--where",
        caption_world.where(caption_world.clean(6)),
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
