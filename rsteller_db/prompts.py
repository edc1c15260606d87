"""Prompt templates: ``prompts/<name>.j2`` rendered with Jinja2 from a request's payload.

The hash of a template's text (with the files it includes) is recorded beside every caption,
so a caption names the exact prompt it came from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from .errors import RstellerError
from .paths import PROMPTS_DIR

_INCLUDE = re.compile(r"""{%-?\s*(?:include|import|extends|from)\s+["']([^"']+)["']""")


@dataclass(frozen=True)
class RenderedPrompt:
    prompt_name: str
    prompt_hash: str
    text: str


@cache
def _environment(folder: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def template_hash(name: str, folder: Path = PROMPTS_DIR) -> str:
    """sha256 over the template's text and, recursively, the files it includes."""
    digest = hashlib.sha256()
    seen: set[str] = set()

    def feed(file: str) -> None:
        if file in seen:
            return
        seen.add(file)
        path = folder / file
        if not path.is_file():
            raise RstellerError(f"prompt template {path} is missing")
        text = path.read_text()
        digest.update(file.encode() + b"\0" + text.encode() + b"\0")
        for included in _INCLUDE.findall(text):
            feed(included)

    feed(f"{name}.j2")
    return digest.hexdigest()


def render_prompt(name: str, payload: dict, folder: Path = PROMPTS_DIR) -> RenderedPrompt:
    """Render ``prompts/<name>.j2`` with the payload's keys as variables."""
    try:
        template = _environment(str(folder)).get_template(f"{name}.j2")
        text = template.render(**payload).strip()
    except jinja2.TemplateNotFound as exc:
        raise RstellerError(f"no prompt template {name!r} in {folder}") from exc
    except jinja2.UndefinedError as exc:
        raise RstellerError(
            f"prompt {name!r}: the payload lacks a value the template uses: {exc}"
        ) from exc
    return RenderedPrompt(name, template_hash(name, folder), text)
