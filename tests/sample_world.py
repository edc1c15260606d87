"""The test suite's shared warehouse: the bundled sample town through the real pipeline.

``build_sample_warehouse`` runs the commands a user runs (``init``, ``ingest osm``,
``ingest naip``, ``build``, ``caption``, ``images fetch``) on the generated sample, so every
relation in it comes from the real stages. Captioning runs twice, for a realistic mix of
attempts: first a few Task 1/2 requests against an OpenAI-compatible loopback server
(``loopback-model``) that answers one request in three with a faithful caption, one with a
caption the rules reject and one with HTTP 500 (no retries), then the ``template`` back end
for everything still pending, rejected requests included, and the Task 3 revisions.

conftest.py builds it once per test session; tests that only read share it (open it
``read_only=True``), tests that change it take a copy (the ``sample_copy`` fixture).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from _llm_servers import _JsonHandler, _Server, chat_reply
from click.testing import CliRunner

from rsteller_db.caption.backends.template import area_caption, line_caption
from rsteller_db.caption.render import render_request
from rsteller_db.cli import main
from rsteller_db.sample import SampleFiles
from rsteller_db.warehouse import Warehouse

LOOPBACK_MODEL = "loopback-model"  # the model _llm_servers' handlers list
LOOPBACK_REQUESTS = 9  # Task 1/2 requests sent to the loopback server: 3 accepted, 3 rejected,
#                        3 failed
REJECTED_TEXT = "Farmland."  # too few words: word_count_task12 rejects it


def run(warehouse: Path, *args: str, exit_code: int = 0) -> str:
    """One ``rsteller-db`` command, in process; fails the test session when it fails."""
    result = CliRunner().invoke(main, ["-q", "-w", str(warehouse), *args],
                                catch_exceptions=False)
    assert result.exit_code == exit_code, f"rsteller-db {' '.join(args)}: {result.output}"
    return result.output


class _Loopback(_JsonHandler):
    """/v1/models and /v1/chat/completions; the answer to the n-th prompt is chosen by n % 3."""

    def do_POST(self):
        prompt = self.body()["messages"][0]["content"]
        state = self.server.state
        with state.lock:
            n = sum(state.hits.values())
            state.hits[prompt] += 1
        if n % 3 == 2:
            return self.reply(500, {"error": "loopback: overloaded"})
        text = state.answers.get(prompt, REJECTED_TEXT) if n % 3 == 0 else REJECTED_TEXT
        self.reply(200, chat_reply(LOOPBACK_MODEL, text, prompt))


def _faithful_answers(warehouse: Path) -> dict[str, str]:
    """Prompt text -> the template back end's caption of that request (true to its facts)."""
    with Warehouse(warehouse, read_only=True, progress_bar=False) as wh:
        rows = wh.con.execute(
            "select prompt_name, payload, task from caption_requests").fetchall()
        max_chars = int(wh.settings["tag_value_max_chars"])
    answers = {}
    for prompt_name, payload, task in rows:
        prompt, safe = render_request(prompt_name, json.loads(payload), max_chars=max_chars)
        answers[prompt.text] = area_caption(safe) if task == 1 else line_caption(safe)
    return answers


def build_sample_warehouse(sample: SampleFiles, folder: Path) -> Path:
    """The sample through init, ingest, build, two caption runs and images fetch."""
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / "rsteller.duckdb"
    run(warehouse, "init")
    run(warehouse, "ingest", "osm", str(sample.pbf))
    run(warehouse, "ingest", "naip", "--source", "local", str(sample.raster.parent))
    run(warehouse, "build")
    with _Server(_Loopback) as server:
        server.answers = _faithful_answers(warehouse)
        out = run(warehouse, "caption", "--backend", "openai", "--url", server.url, "--tasks",
                  "1,2", "--limit", str(LOOPBACK_REQUESTS), "--retries", "0", "--concurrency",
                  "1", exit_code=2)  # the failed requests make the run exit 2
        assert f"{LOOPBACK_REQUESTS // 3} request(s) failed" in out, out
    run(warehouse, "caption", "--backend", "template", "--retry-rejected", "2")
    run(warehouse, "images", "fetch")
    return warehouse


def copy_warehouse(warehouse: Path, folder: Path) -> Path:
    """A private copy of the warehouse folder (file and cached images) under ``folder``."""
    target = folder / warehouse.parent.name
    shutil.copytree(warehouse.parent, target, ignore=shutil.ignore_patterns("tmp"))
    return target / warehouse.name
