"""A model's own chat template, for back ends that send raw text (SGLang's ``/generate``).

The template is the one the model ships: ``chat_template`` in its ``tokenizer_config.json``
(or a ``chat_template.jinja`` beside it), read from the model's folder, or from the Hugging Face
hub cache when the model is a hub id. It is rendered the way Hugging Face tokenizers render it
(a sandboxed Jinja environment with ``messages``, ``add_generation_prompt``, ``bos_token`` and
``eos_token``), with the prompt as one user message. Nothing is guessed from the model's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .backends.base import BackendError


def _token(value) -> str:
    if isinstance(value, dict):  # {"content": "<s>", "lstrip": false, ...}
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _files(model: str) -> tuple[dict, str | None]:
    """The tokenizer config of ``model`` (a folder or a hub id) and its chat_template.jinja."""
    folder = Path(model)
    if folder.is_dir():
        config = folder / "tokenizer_config.json"
        jinja = folder / "chat_template.jinja"
        return (
            json.loads(config.read_text()) if config.is_file() else {},
            jinja.read_text() if jinja.is_file() else None,
        )
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError as exc:
        raise BackendError(
            f"{model!r} is not a folder and huggingface_hub is not installed to find its "
            "tokenizer config"
        ) from exc
    config = json.loads(Path(hf_hub_download(model, "tokenizer_config.json")).read_text())
    try:
        jinja = Path(hf_hub_download(model, "chat_template.jinja")).read_text()
    except EntryNotFoundError:
        jinja = None
    return config, jinja


def load(model: str) -> Callable[[str], str]:
    """A function that wraps one prompt in ``model``'s chat template, ready to generate."""
    try:
        config, jinja = _files(model)
    except BackendError:
        raise
    except Exception as exc:  # network, missing file, bad JSON: all say the same to a user
        raise BackendError(
            f"cannot read the chat template of {model} ({type(exc).__name__}: {exc}): pass "
            "--chat-format with the model's format, or --prompt-mode completion"
        ) from exc
    source = jinja or config.get("chat_template")
    if isinstance(source, list):  # named templates: [{"name": "default", "template": ...}]
        source = next((t.get("template") for t in source if t.get("name") == "default"), None)
    if not isinstance(source, str) or not source.strip():
        raise BackendError(
            f"{model} has no chat template in its tokenizer config: pass --chat-format with "
            "the model's format, or --prompt-mode completion for a base model"
        )
    bos, eos = _token(config.get("bos_token")), _token(config.get("eos_token"))
    return compile_template(source, bos, eos)


def compile_template(source: str, bos_token: str = "", eos_token: str = "") -> Callable[[str], str]:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message):
        raise jinja2.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    try:
        template = env.from_string(source)
    except jinja2.TemplateError as exc:
        raise BackendError(f"the model's chat template does not compile: {exc}") from exc

    def wrap(prompt: str) -> str:
        return template.render(
            messages=[{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
        )

    return wrap
