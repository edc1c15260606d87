"""`caption --fallback template`: what the main back end cannot caption after its retries is
captioned by the template back end, recorded under its own name, phase by phase."""

from __future__ import annotations

import json

import duckdb
from _llm_servers import _JsonHandler, _Server, answer_for, chat_reply, prompt_patch

from rsteller_db.caption import CaptionOptions
from rsteller_db.caption.fallback import run_with_fallback

OFF_TOPIC = "This is a post from a post of a post about a post. The post is a reference to a post."


class _StubbornHandler(_JsonHandler):
    """Answers the Task 1/2 prompts of the patches in ``stubborn`` off topic every time,
    everything else faithfully."""

    def do_POST(self):
        prompt = self.body()["messages"][0]["content"]
        state = self.server.state
        bad = "<caption>" not in prompt and prompt_patch(prompt) in state.stubborn
        text = OFF_TOPIC if bad else answer_for(prompt, state.payloads)
        self.reply(200, chat_reply("loopback-model", text, prompt))


def _stubborn(world, requests):
    """A stubborn server for the first and third of ``requests``."""
    server = _Server(_StubbornHandler)
    server.payloads = world.payloads
    server.stubborn = {requests[0].patch_id, requests[2].patch_id}
    return server


def _rows(path, sql):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_template_takes_over_what_the_model_could_not_caption(caption_world, caption_copy,
                                                              test_prompts):
    path = caption_copy
    chosen = caption_world.clean(4)
    first, second = chosen[0], chosen[1]
    assert (first.task, second.task) == (1, 2)  # the world alternates areas and lines
    with _stubborn(caption_world, chosen) as server:
        opts = CaptionOptions(backend="openai", urls=(server.url,), retry_rejected=1,
                              prompts_dir=test_prompts, where=caption_world.where(chosen))
        summary = run_with_fallback(path, opts, "template")
        again = run_with_fallback(path, opts, "template")
    # Task 1/2: the first and third rejected twice by the model, then written by the template;
    # Task 3: the model revises all four accepted captions, its own and the template's
    assert [r.backend for r in summary.main + summary.fallback] == [
        "openai", "openai", "template", "template"
    ]
    assert _rows(
        path,
        "select request_id, attempt, backend, annotator, status, reject_reason from captions "
        f"where patch_id in ({first.patch_id}, {second.patch_id}) order by request_id, attempt",
    ) == sorted([
        (first.request_id, 1, "openai", "loopback-model", "rejected", "off_topic"),
        (first.request_id, 2, "openai", "loopback-model", "rejected", "off_topic"),
        (first.request_id, 3, "template", "rsteller-db/template", "accepted", None),
        (f"{first.patch_id}-t3-1", 1, "openai", "loopback-model", "accepted", None),
        (second.request_id, 1, "openai", "loopback-model", "accepted", None),
        (f"{second.patch_id}-t3-1", 1, "openai", "loopback-model", "accepted", None),
    ])
    assert _rows(path, "select count(distinct request_id) from captions where status = 'accepted'"
                 ) == [(8,)]
    assert sum(r.requests for r in again.main + again.fallback) == 0
    rows = dict(summary.rows())
    assert (rows["accepted"], rows["rejected"], rows["fallback accepted"]) == (6, 4, 2)
    assert rows["fallback annotator"] == "rsteller-db/template"


def test_cli_fallback_option(cli, caption_world, caption_copy, test_prompts):
    chosen = caption_world.clean(3)
    with _stubborn(caption_world, chosen) as server:
        out = cli("-w", str(caption_copy), "-q", "caption", "--backend", "openai", "--url",
                  server.url, "--tasks", "1,2", "--fallback", "template", "--prompts",
                  str(test_prompts), "--where", caption_world.where(chosen), "--format", "json")
    assert out.exit_code == 0, out.output
    rows = {r["item"]: r["value"] for r in json.loads(out.output)}
    assert (rows["accepted"], rows["rejected"], rows["fallback accepted"]) == (1, 2, 2)
    assert rows["fallback backend"] == "template"
