"""``sglang``: an SGLang server's native ``/generate``, a list of prompts per call.

The production path (see docs/captioning.md): ``python -m sglang.launch_server --model-path
mistralai/Mistral-Nemo-Instruct-2407 --port 30000`` on a GPU box, then ``--url`` once per
server, or once for an SGLang router in front of many. With ``--model`` and no ``--url`` the
model runs in-process through ``sglang.Engine`` (extra ``sglang``, GPU machine only).

``/generate`` takes raw text. In ``chat`` prompt mode each prompt is wrapped in the model's own
chat template (``caption.chat_template``: the tokenizer config of the ``tokenizer_path`` the
server reports); ``--chat-format NAME`` wraps it in a named format instead, for a model whose
config has none. In ``completion`` mode (base models) the prompt goes as it is and generation
stops at the end of the line. Each prompt carries its own ``sampling_params`` (a list, as
SGLang's ``GenerateReqInput`` takes): the job's seed as ``sampling_seed`` (honoured by servers
started with ``--enable-deterministic-inference``) and, by default, the caption's shape as a
``regex`` (``--constrain grammar`` sends it as ``ebnf``, ``json_schema`` as ``json_schema``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import constrain
from .base import COMPLETION_STOP, Backend, BackendError, Completion, Job
from .http import HttpClient, RequestFailed
from .registry import register

CHAT_FORMATS: dict[str, Callable[[str], str]] = {
    "raw": lambda p: p,
    "mistral": lambda p: f"[INST]{p}[/INST]",
    "chatml": lambda p: f"<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n",
    "llama3": lambda p: (
        f"<|start_header_id|>user<|end_header_id|>\n\n{p}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
}


def chat_wrapper(model: str, wanted: str = "auto") -> Callable[[str], str]:
    """How prompts are wrapped: the model's own chat template (``auto``), or a named format."""
    if wanted == "auto":
        from ..chat_template import load

        return load(model)
    if wanted not in CHAT_FORMATS:
        raise BackendError(
            f"unknown --chat-format {wanted!r}: choose among auto (the model's own template), "
            + ", ".join(CHAT_FORMATS)
        )
    return CHAT_FORMATS[wanted]


def sampling_params(backend: Backend, job: Job) -> dict:
    """SGLang's ``sampling_params`` for one job (names as in its ``SamplingParams``)."""
    s = backend.sampling
    params = {
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_new_tokens": s.max_tokens,
        "sampling_seed": job.seed,
    }
    if backend.prompt_mode == "completion":
        params["stop"] = list(COMPLETION_STOP)
    if backend.constraint == "regex":
        params["regex"] = constrain.regex(job.task)
    elif backend.constraint == "grammar":
        params["ebnf"] = constrain.gbnf(job.task)
    elif backend.constraint == "json_schema":
        params["json_schema"] = constrain.json_schema(job.task)
    return params


def completions_from(
    items: list, jobs: list[Job], annotator: str, latency_s: float, json_answers: bool = False
) -> list[Completion]:
    """Turn ``/generate``'s list of ``{"text", "meta_info"}`` into completions, one per job."""
    if not isinstance(items, list) or len(items) != len(jobs):
        reason = (
            f"the server answered {len(items) if isinstance(items, list) else 'no list'} "
            f"item(s) for {len(jobs)} prompt(s)"
        )
        return [Completion(None, annotator, error=reason) for _ in jobs]
    out = []
    for item in items:
        meta = item.get("meta_info") or {} if isinstance(item, dict) else {}
        text = item.get("text") if isinstance(item, dict) else None
        if json_answers:
            text = constrain.caption_from_json(text)
        out.append(
            Completion(
                text,
                annotator,
                meta.get("prompt_tokens"),
                meta.get("completion_tokens"),
                latency_s / len(jobs),
            )
        )
    return out


@register
class SGLangBackend(Backend):
    name = "sglang"
    max_batch = 256
    constraints = ("regex", "grammar", "json_schema", "none")

    def _wrapper(self, tokenizer: str) -> Callable[[str], str]:
        if self.prompt_mode == "completion":
            return CHAT_FORMATS["raw"]
        return chat_wrapper(tokenizer, self.options.chat_format)

    def start(self) -> str:
        if not self.options.urls:
            return self._start_engine()
        self.http = HttpClient(self.options)
        self.engine = None
        infos = [self.http.get(url, "/get_model_info") for url in self.http.pool.urls]
        self.annotator = self.options.model or str(infos[0].get("model_path") or "sglang")
        self.wrap = self._wrapper(str(infos[0].get("tokenizer_path") or self.annotator))
        return self.annotator

    def _start_engine(self) -> str:
        if not self.options.model:
            raise BackendError(
                "the sglang back end needs --url of a server, or --model to run "
                "sglang.Engine in-process on a GPU machine"
            )
        try:
            import sglang
        except ImportError as exc:
            raise BackendError(
                "sglang.Engine needs the sglang extra: pip install 'rsteller-db[sglang]' "
                "(GPU machine), or pass --url of a running server"
            ) from exc
        self.http = None
        self.engine = sglang.Engine(model_path=self.options.model)
        self.annotator = self.options.model
        self.wrap = self._wrapper(self.options.model)
        return self.annotator

    def request_body(self, jobs: list[Job]) -> dict:
        return {
            "text": [self.wrap(job.prompt) for job in jobs],
            "sampling_params": [sampling_params(self, job) for job in jobs],
        }

    def generate(self, jobs: list[Job]) -> list[Completion]:
        body = self.request_body(jobs)
        if self.engine is not None:
            t0 = time.perf_counter()
            items = self.engine.generate(
                prompt=body["text"], sampling_params=body["sampling_params"]
            )
            return completions_from(
                items, jobs, self.annotator, time.perf_counter() - t0, self._json
            )
        try:
            reply = self.http.post("/generate", body)
        except RequestFailed as exc:
            return [Completion(None, self.annotator, error=str(exc)) for _ in jobs]
        return completions_from(reply.data, jobs, self.annotator, reply.latency_s, self._json)

    @property
    def _json(self) -> bool:
        return self.constraint == "json_schema"

    def describe(self) -> str:
        return ", ".join(self.options.urls) or f"sglang.Engine({self.options.model})"

    def close(self) -> None:
        if getattr(self, "http", None) is not None:
            self.http.close()
        if getattr(self, "engine", None) is not None:
            self.engine.shutdown()
