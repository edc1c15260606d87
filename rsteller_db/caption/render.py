"""The render path: untrusted OSM text made safe, then ``prompts.render_prompt``.

OSM tag values and names are written by anyone. Before a payload reaches a template, every
string loses its control and format characters, and strings that come from OSM (values under
the keys in ``UNTRUSTED_KEYS``, at any depth) are also cut to ``tag_value_max_chars`` and lose
the characters that could close the data fence a template puts around them (quotes, ``<``,
``>``, backticks, brackets, ``=``). Templates present those values inside a fenced data
block; the quality rules reject captions that echo instructions anyway.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from ..paths import PROMPTS_DIR
from ..prompts import RenderedPrompt, render_prompt

UNTRUSTED_KEYS = frozenset(
    {
        "tags",
        "name",
        "names",
        "value",
        "values",
        "places",
        "features",
        "background",
        "context",
        "notable",
        "notable_features",
    }
)
# Tag meanings come from the glossary or the taginfo wiki: fenced like OSM text, cut less.
LONG_KEYS = frozenset({"meaning", "description"})
_FENCE_BREAKERS = re.compile(r"[\"<>`{}\[\]|\\=]")
_SPACES = re.compile(r"\s+")
DEFAULT_MAX_CHARS = 120


def _clean(text: str) -> str:
    """Drop control/format characters (newlines become spaces) and squeeze whitespace."""
    kept = "".join(
        " " if ch in "\t\n\r\v\f" else ch
        for ch in text
        if ch in "\t\n\r\v\f" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    return _SPACES.sub(" ", kept).strip()


def sanitize_value(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """An untrusted string made fit for a prompt: cleaned, unfenceable, at most ``max_chars``."""
    text = _SPACES.sub(" ", _FENCE_BREAKERS.sub(" ", _clean(text))).strip()
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 1)].rstrip() + "…"
    return text


def sanitize_payload(
    payload: Any, max_chars: int = DEFAULT_MAX_CHARS, untrusted: bool = False
) -> Any:
    """A copy of ``payload`` with every string cleaned and OSM-sourced strings capped."""
    if isinstance(payload, dict):
        return {
            (sanitize_value(k, max_chars) if untrusted else k): sanitize_payload(
                v,
                max_chars * 4 if untrusted and k in LONG_KEYS else max_chars,
                untrusted or k in UNTRUSTED_KEYS,
            )
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [sanitize_payload(v, max_chars, untrusted) for v in payload]
    if isinstance(payload, str):
        return sanitize_value(payload, max_chars) if untrusted else _clean(payload)
    return payload


def render_request(
    prompt_name: str,
    payload: dict,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    folder: Path = PROMPTS_DIR,
) -> tuple[RenderedPrompt, dict]:
    """The rendered prompt of a request and the sanitized payload it was rendered from."""
    safe = sanitize_payload(payload, max_chars)
    return render_prompt(prompt_name, safe, folder=folder), safe
