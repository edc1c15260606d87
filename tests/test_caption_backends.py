"""Back ends: the registry, the sglang /generate request format against a schema-checking
loopback server, load balancing over several URLs, and an unreachable server at start."""

from __future__ import annotations

import json

import duckdb
import pytest
from _llm_servers import MISTRAL_TEMPLATE, free_port, sglang_checker  # noqa: F401 (fixture)

from rsteller_db.caption import CaptionOptions, constrain, run_captions
from rsteller_db.caption.backends import (
    BackendError,
    BackendOptions,
    Job,
    Sampling,
    backend_names,
    create_backend,
)
from rsteller_db.caption.backends.sglang import chat_wrapper


def test_registry_lists_every_back_end_and_names_unknown_ones():
    assert backend_names() == ["local", "openai", "sglang", "template"]
    with pytest.raises(
        BackendError,
        match="unknown caption back end 'vllm': choose --backend among "
        "local, openai, sglang, template",
    ):
        create_backend("vllm", BackendOptions())
    with pytest.raises(BackendError, match=r"the openai back end needs a server: pass --url"):
        create_backend("openai", BackendOptions())


def test_chat_template_is_the_models_own_or_a_named_one(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": {"content": "<s>"}, "chat_template": MISTRAL_TEMPLATE})
    )
    assert chat_wrapper(str(folder))("Describe.") == "<s>[INST]Describe.[/INST]"
    assert chat_wrapper("anything", "chatml")("Hi") == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert chat_wrapper("anything", "raw")("Hi") == "Hi"
    with pytest.raises(BackendError, match="unknown --chat-format 'x'"):
        chat_wrapper("m", "x")
    (folder / "tokenizer_config.json").write_text("{}")
    with pytest.raises(BackendError, match="has no chat template in its tokenizer config"):
        chat_wrapper(str(folder))


def test_sglang_requests_follow_the_generate_schema(caption_world, caption_copy, test_prompts,
                                                    sglang_checker):  # noqa: F811
    path = caption_copy
    sglang_checker.payloads = caption_world.payloads
    opts = CaptionOptions(
        backend="sglang",
        urls=(sglang_checker.url,),
        batch_size=3,
        concurrency=2,
        prompts_dir=test_prompts,
        sampling=Sampling(temperature=0.6, top_p=0.9, max_tokens=120),
        where=caption_world.where(caption_world.clean(7)),  # 7 Task 1/2, then 7 Task 3
    )
    summary = run_captions(path, opts)
    assert (summary.requests, summary.failed) == (14, 0)
    assert summary.annotator == "mistralai/Mistral-Nemo-Instruct-2407"
    bodies = sglang_checker.bodies
    assert bodies and all(set(b) == {"text", "sampling_params"} for b in bodies)
    assert max(len(b["text"]) for b in bodies) == 3  # lists of prompts per call
    assert sum(len(b["text"]) for b in bodies) == 14
    # one sampling_params per prompt: the job's seed, and the caption's shape as a regex
    params = [p for b in bodies for p in b["sampling_params"]]
    assert all(len(b["sampling_params"]) == len(b["text"]) for b in bodies)
    assert {k: params[0][k] for k in ("temperature", "top_p", "max_new_tokens")} == {
        "temperature": 0.6, "top_p": 0.9, "max_new_tokens": 120}
    assert {p["regex"] for p in params} == {constrain.regex(1), constrain.regex(3)}
    # the model's own template (from the tokenizer folder the server names), not a guess
    assert all(t.startswith("<s>[INST]") and t.endswith("[/INST]") for b in bodies
               for t in b["text"])
    with duckdb.connect(str(path), read_only=True) as con:
        stored = con.execute("select distinct annotator, backend, status from captions").fetchall()
        tokens = con.execute("select min(tokens_in), min(tokens_out) from captions").fetchone()
        seeds = con.execute(
            "select caption_id, sampling->>'seed' from captions order by 1").fetchall()
    sent = sorted(p["sampling_seed"] for p in params)
    assert sorted(int(seed) for _, seed in seeds) == sent  # every job's seed was sent
    assert stored == [("mistralai/Mistral-Nemo-Instruct-2407", "sglang", "accepted")]
    assert tokens[0] > 0 and tokens[1] >= 10


def test_sglang_schema_checker_rejects_an_openai_style_body(sglang_checker):  # noqa: F811
    import httpx

    response = httpx.post(
        sglang_checker.url + "/generate", json={"prompt": "x", "sampling_params": {"max_tokens": 5}}
    )
    assert response.status_code == 400
    assert (
        "unknown field 'prompt'" in response.text
        and "unknown sampling param 'max_tokens'" in response.text
    )


def test_several_urls_share_the_load(caption_world, caption_copy, test_prompts):
    from _llm_servers import _EchoHandler, _Server

    path = caption_copy
    with _Server(_EchoHandler) as a, _Server(_EchoHandler) as b:
        a.delay_s = b.delay_s = 0.05
        a.payloads = b.payloads = caption_world.payloads
        opts = CaptionOptions(
            backend="openai",
            urls=(a.url, b.url + "/v1"),
            concurrency=4,
            tasks=(1, 2),
            prompts_dir=test_prompts,
            where=caption_world.where(caption_world.clean(24)),
        )
        summary = run_captions(path, opts)
    assert summary.accepted == 24
    assert sum(a.hits.values()) + sum(b.hits.values()) == 24
    assert min(sum(a.hits.values()), sum(b.hits.values())) >= 6


def test_the_threads_setting_reaches_the_back_end(caption_world, caption_copy, test_prompts,
                                                  monkeypatch):
    """run_captions hands the warehouse's `threads` setting to the back end it creates (the
    local back end gives it to llama.cpp: test_caption_llm.py)."""
    from rsteller_db.caption import runner
    from rsteller_db.settings import load_settings

    made = []

    def recorded(name, options):
        made.append(options)
        return create_backend(name, options)

    monkeypatch.setattr(runner, "create_backend", recorded)
    opts = CaptionOptions(backend="template", tasks=(1, 2), prompts_dir=test_prompts,
                          where=caption_world.where(caption_world.clean(1)))
    summary = run_captions(caption_copy, opts, settings=load_settings(overrides={"threads": 3}))
    assert summary.requests == 1 and [o.threads for o in made] == [3]


def test_unreachable_server_is_one_clear_error_and_nothing_is_written(cli, caption_copy):
    path = caption_copy
    url = f"http://127.0.0.1:{free_port()}"
    out = cli("-w", str(path), "caption", "--backend", "openai", "--url", url)
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: cannot reach the caption server at {url} (ConnectError")
    assert out.output.endswith("start the server or fix --url\n")
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from captions").fetchone() == (0,)
        assert con.execute("select count(*) from _meta.caption_runs").fetchone() == (0,)


def test_template_back_end_is_deterministic():
    backend = create_backend("template", BackendOptions())
    backend.start()
    payload = {
        "element": {"name": "Elm Street", "tags": [{"key": "highway", "value": "residential"}]},
        "geometry": {
            "kind": "line",
            "start_words": "the top-left corner",
            "end_words": "the bottom-right corner",
            "sinuosity_words": "runs straight",
            "orientation_words": "along a northwest-southeast diagonal",
            "length_m": 371.2,
        },
    }
    jobs = [Job("k", 2, "prompt", 1, payload), Job("k2", 2, "other prompt", 1, payload),
            Job("k3", 2, "prompt", 2, payload)]
    first, same_seed, other_seed = backend.generate(jobs)
    assert first.text == same_seed.text != other_seed.text
    for text in (first.text, other_seed.text):
        assert "Elm Street" in text and "residential street" in text and "370 metres" in text
    assert first.annotator == "rsteller-db/template"
