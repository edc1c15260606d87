"""Constrained decoding: what a caption may look like, in the forms back ends take.

A caption is one paragraph of words made of the characters the rules allow (letters, digits
and ``' / & % ° -``; "8,167" and "2.5" too), separated by single spaces, optionally after
``, ; : . ! ?``, ending with ``.``, ``!`` or ``?``, within the task's word range. No brackets,
quotes, ``=``, ``*`` or line breaks can be written at all, so the format rules (charset,
unbalanced_brackets, equals_sign, revision_format, word counts, unfinished) stop costing model
time. The same shape is given as a
llama.cpp GBNF grammar (``local``, and llama.cpp servers through ``openai``), a regular
expression (SGLang's ``regex`` sampling parameter, servers that take one) and a JSON schema
(``response_format`` of OpenAI-compatible servers: the caption comes back as ``{"caption": …}``).
"""

from __future__ import annotations

import json
from functools import cache

# Words per task. The lower bounds are the rules' (10 for Task 1/2, a short true caption beats
# padding); the upper ones stop a small model's rambling well inside the token budget (the
# prompts ask for 30 to 90 and 10 to 50 words; 60 and 40 words fit in about 80 and 55 tokens).
WORD_RANGE = {1: (10, 60), 2: (10, 60), 3: (8, 40)}
MODES = ("auto", "none", "grammar", "regex", "json_schema")

_LETTERS = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff'/&%\u00b0-"
_GBNF_LETTERS = "A-Za-z0-9\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u00FF'/&%\\u00B0-"


def word_range(task: int) -> tuple[int, int]:
    return WORD_RANGE[task]


@cache
def gbnf(task: int) -> str:
    """The caption shape of ``task`` as a llama.cpp grammar."""
    lo, hi = word_range(task)
    return (
        f"root ::= word (sep word){{{lo - 1},{hi - 1}}} [.!?]\n"
        f"word ::= [{_GBNF_LETTERS}]+ ([,.] [0-9]+)*\n"
        'sep ::= [,;:.!?]? " "\n'
    )


@cache
def regex(task: int) -> str:
    """The caption shape of ``task`` as a regular expression (whole match)."""
    lo, hi = word_range(task)
    word = f"[{_LETTERS}]+(?:[,.][0-9]+)*"
    return f"{word}(?:[,;:.!?]? {word}){{{lo - 1},{hi - 1}}}[.!?]"


@cache
def json_schema(task: int) -> str:
    """An object ``{"caption": <the caption shape>}`` as a JSON schema (text)."""
    return json.dumps(
        {
            "type": "object",
            "properties": {"caption": {"type": "string", "pattern": f"^{regex(task)}$"}},
            "required": ["caption"],
            "additionalProperties": False,
        }
    )


def caption_from_json(text: str | None) -> str | None:
    """The caption of a ``{"caption": …}`` answer; the raw text when it is not one."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return text
    return data.get("caption") if isinstance(data, dict) else text
