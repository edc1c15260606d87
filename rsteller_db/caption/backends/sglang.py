"""``sglang``: an SGLang server's native ``/generate``, a list of prompts per call.

The production path (see docs/captioning.md): ``python -m sglang.launch_server --model-path
mistralai/Mistral-Nemo-Instruct-2407 --port 30000`` on a GPU box, then ``--url`` once per
server, or once for an SGLang router in front of many. ``/generate`` takes raw text, so the
chat template is applied here (``--chat-format``; ``auto`` picks it from the model name).
With ``--model`` and no ``--url`` the model runs in-process through ``sglang.Engine`` (extra
``sglang``, GPU machine only).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .base import Backend, BackendError, Completion, Job
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


def chat_format_for(model: str, wanted: str = "auto") -> str:
    """The chat format to wrap prompts in: ``wanted``, or guessed from the model's name."""
    if wanted != "auto":
        if wanted not in CHAT_FORMATS:
            raise BackendError(
                f"unknown --chat-format {wanted!r}: choose among auto, " + ", ".join(CHAT_FORMATS)
            )
        return wanted
    lowered = model.lower()
    if "mistral" in lowered or "mixtral" in lowered:
        return "mistral"
    if "llama-3" in lowered or "llama3" in lowered:
        return "llama3"
    return "chatml"


def sampling_params(backend: Backend) -> dict:
    """SGLang's ``sampling_params`` object (names as in its ``SamplingParams``)."""
    s = backend.sampling
    return {"temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_tokens}


def completions_from(
    items: list, jobs: list[Job], annotator: str, latency_s: float
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

    def start(self) -> str:
        if not self.options.urls:
            return self._start_engine()
        self.http = HttpClient(self.options)
        self.engine = None
        infos = [self.http.get(url, "/get_model_info") for url in self.http.pool.urls]
        self.annotator = self.options.model or str(infos[0].get("model_path") or "sglang")
        self.wrap = CHAT_FORMATS[chat_format_for(self.annotator, self.options.chat_format)]
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
        self.wrap = CHAT_FORMATS[chat_format_for(self.annotator, self.options.chat_format)]
        return self.annotator

    def request_body(self, jobs: list[Job]) -> dict:
        return {
            "text": [self.wrap(job.prompt) for job in jobs],
            "sampling_params": sampling_params(self),
        }

    def generate(self, jobs: list[Job]) -> list[Completion]:
        body = self.request_body(jobs)
        if self.engine is not None:
            t0 = time.perf_counter()
            items = self.engine.generate(
                prompt=body["text"], sampling_params=body["sampling_params"]
            )
            return completions_from(items, jobs, self.annotator, time.perf_counter() - t0)
        try:
            reply = self.http.post("/generate", body)
        except RequestFailed as exc:
            return [Completion(None, self.annotator, error=str(exc)) for _ in jobs]
        return completions_from(reply.data, jobs, self.annotator, reply.latency_s)

    def describe(self) -> str:
        return ", ".join(self.options.urls) or f"sglang.Engine({self.options.model})"

    def close(self) -> None:
        if getattr(self, "http", None) is not None:
            self.http.close()
        if getattr(self, "engine", None) is not None:
            self.engine.shutdown()
