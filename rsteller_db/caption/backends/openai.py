"""``openai``: any OpenAI-compatible ``/v1/chat/completions`` server (SGLang, vLLM, llama.cpp).

A server is configuration: ``--url`` (one or several, balanced by load) and ``--model`` (the
first model the server lists when omitted). One prompt per HTTP request; throughput comes from
``--concurrency`` requests in flight.
"""

from __future__ import annotations

from dataclasses import replace

from .base import Backend, BackendError, Completion, Job
from .http import HttpClient, RequestFailed
from .registry import register


def _api_base(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


@register
class OpenAIBackend(Backend):
    name = "openai"
    needs_url = True

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

    def _one(self, job: Job) -> Completion:
        s = self.sampling
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": job.prompt}],
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": job.seed,
        }
        try:
            reply = self.http.post("/v1/chat/completions", body)
        except RequestFailed as exc:
            return Completion(None, self.annotator, error=str(exc))
        data = reply.data if isinstance(reply.data, dict) else {}
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        usage = data.get("usage") or {}
        return Completion(
            text=message.get("content"),
            annotator=data.get("model") or self.annotator,
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            latency_s=reply.latency_s,
        )

    def close(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
