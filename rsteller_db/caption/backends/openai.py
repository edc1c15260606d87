"""``openai``: any OpenAI-compatible server (SGLang, vLLM, llama.cpp).

A server is configuration: ``--url`` (one or several, balanced by load) and ``--model`` (the
first model the server lists when omitted). One prompt per HTTP request; throughput comes from
``--concurrency`` requests in flight. ``--prompt-mode chat`` (default) posts to
``/v1/chat/completions``, where the server applies the model's own chat template;
``completion`` posts the raw prompt to ``/v1/completions`` with a stop at the end of the line.

Constrained decoding is off by default (servers differ); ``--constrain`` picks the field:
``json_schema`` (``response_format``, the OpenAI form: the caption comes back as JSON),
``grammar`` (a GBNF ``grammar``, as llama.cpp's server takes) or ``regex`` (as SGLang's
OpenAI-compatible server takes).
"""

from __future__ import annotations

import json
from dataclasses import replace

from .. import constrain
from .base import COMPLETION_STOP, Backend, BackendError, Completion, Job
from .http import HttpClient, RequestFailed
from .registry import register


def _api_base(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


@register
class OpenAIBackend(Backend):
    name = "openai"
    needs_url = True
    constraints = ("none", "json_schema", "grammar", "regex")

    def start(self) -> str:
        self.http = HttpClient(replace(self.options, urls=tuple(map(_api_base, self.options.urls))))
        listed = [self.http.get(url, "/v1/models") for url in self.http.pool.urls]
        ids = [m.get("id") for m in (listed[0].get("data") or []) if isinstance(m, dict)]
        if self.options.model is None and not ids:
            raise BackendError(
                f"the server at {self.http.pool.urls[0]} lists no model: pass --model NAME"
            )
        self.model = self.options.model or ids[0]
        self.annotator = self.model
        return self.annotator

    def generate(self, jobs: list[Job]) -> list[Completion]:
        return [self._one(job) for job in jobs]

    def request_body(self, job: Job) -> tuple[str, dict]:
        """The path and JSON body of one request."""
        s = self.sampling
        body = {
            "model": self.model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": job.seed,
        }
        if self.prompt_mode == "completion":
            path = "/v1/completions"
            body |= {"prompt": job.prompt, "stop": list(COMPLETION_STOP)}
        else:
            path = "/v1/chat/completions"
            body["messages"] = [{"role": "user", "content": job.prompt}]
        if self.constraint == "json_schema":
            schema = json.loads(constrain.json_schema(job.task))
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "caption", "schema": schema, "strict": True},
            }
        elif self.constraint == "grammar":
            body["grammar"] = constrain.gbnf(job.task)
        elif self.constraint == "regex":
            body["regex"] = constrain.regex(job.task)
        return path, body

    def _one(self, job: Job) -> Completion:
        path, body = self.request_body(job)
        try:
            reply = self.http.post(path, body)
        except RequestFailed as exc:
            return Completion(None, self.annotator, error=str(exc))
        data = reply.data if isinstance(reply.data, dict) else {}
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        completion = self.prompt_mode == "completion"
        text = choices[0].get("text") if completion else message.get("content")
        if self.constraint == "json_schema":
            text = constrain.caption_from_json(text)
        usage = data.get("usage") or {}
        return Completion(
            text=text.strip() if isinstance(text, str) else text,
            annotator=data.get("model") or self.annotator,
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            latency_s=reply.latency_s,
        )

    def close(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
