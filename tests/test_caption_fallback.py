"""`caption --fallback template`: what the main back end cannot caption after its retries is
captioned by the template back end, recorded under its own name, phase by phase."""

from __future__ import annotations

import json

import duckdb
from _caption_data import make_warehouse, write_prompts
from _llm_servers import _JsonHandler, _Server, answer_for, chat_reply

from rsteller_db.caption import CaptionOptions
from rsteller_db.caption.fallback import run_with_fallback

OFF_TOPIC = "This is a post from a post of a post about a post. The post is a reference to a post."


class _StubbornHandler(_JsonHandler):
    """Answers patches 1 and 3 off topic every time, everything else faithfully."""

    def do_POST(self):
        prompt = self.body()["messages"][0]["content"]
        bad = "<caption>" not in prompt and ("patch 1 " in prompt or "patch 3 " in prompt)
        self.reply(200, chat_reply("loopback-model", OFF_TOPIC if bad else answer_for(prompt),
                                   prompt))


def _rows(path, sql):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_template_takes_over_what_the_model_could_not_caption(cli, tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb", 4)
    prompts = write_prompts(tmp_path / "prompts")
    with _Server(_StubbornHandler) as server:
        opts = CaptionOptions(
            backend="openai", urls=(server.url,), retry_rejected=1, prompts_dir=prompts
        )
        summary = run_with_fallback(path, opts, "template")
        again = run_with_fallback(path, opts, "template")
    # Task 1/2: patches 1 and 3 rejected twice by the model, then written by the template;
    # Task 3: the model revises all four accepted captions, its own and the template's
    assert [r.backend for r in summary.main + summary.fallback] == [
        "openai", "openai", "template", "template"
    ]
    assert _rows(
        path,
        "select request_id, attempt, backend, annotator, status, reject_reason from captions "
        "where patch_id in (1, 2) order by request_id, attempt",
    ) == [
        ("1-t1", 1, "openai", "loopback-model", "rejected", "off_topic"),
        ("1-t1", 2, "openai", "loopback-model", "rejected", "off_topic"),
        ("1-t1", 3, "template", "rsteller-db/template", "accepted", None),
        ("1-t3-1", 1, "openai", "loopback-model", "accepted", None),
        ("2-t2", 1, "openai", "loopback-model", "accepted", None),
        ("2-t3-1", 1, "openai", "loopback-model", "accepted", None),
    ]
    assert _rows(path, "select count(distinct request_id) from captions where status = 'accepted'"
                 ) == [(8,)]
    assert sum(r.requests for r in again.main + again.fallback) == 0
    rows = dict(summary.rows())
    assert (rows["accepted"], rows["rejected"], rows["fallback accepted"]) == (6, 4, 2)
    assert rows["fallback annotator"] == "rsteller-db/template"


def test_cli_fallback_option(cli, tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb", 3, revisions=False)
    prompts = write_prompts(tmp_path / "prompts")
    with _Server(_StubbornHandler) as server:
        out = cli("-w", str(path), "-q", "caption", "--backend", "openai", "--url", server.url,
                  "--tasks", "1,2", "--fallback", "template", "--prompts", str(prompts),
                  "--format", "json")
    assert out.exit_code == 0, out.output
    rows = {r["item"]: r["value"] for r in json.loads(out.output)}
    assert (rows["accepted"], rows["rejected"], rows["fallback accepted"]) == (1, 2, 2)
    assert rows["fallback backend"] == "template"
