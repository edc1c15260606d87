"""Constrained decoding (rsteller_db/caption/constrain.py): the grammar, regex and JSON schema
say the same thing, the captions the rules accept fit them, the format faults cannot."""

from __future__ import annotations

import json
import re

import pytest
from _verifier_set import load_cases

from rsteller_db.caption import constrain
from rsteller_db.caption.backends import BackendError, BackendOptions, create_backend

BAD_SHAPES = [
    "A forest (mostly pines fills the upper left part of this aerial view near the edge.",
    "A forest fills the upper left part of this aerial view,\nnear the top edge of it.",
    "A landuse=forest area fills the upper left part of this aerial view near the edge.",
    "A forest fills the upper left part of this aerial view, its canopy covering",
    "A small forest.",
    "Dark *green* treetops spread over nearly half the scene past its border.",
]


def test_faithful_captions_fit_the_shape_and_format_faults_do_not():
    _, cases = load_cases()
    for case in cases:
        if case.faithful:
            assert re.fullmatch(constrain.regex(case.task), case.text), case.text
    for text in BAD_SHAPES:
        assert not re.fullmatch(constrain.regex(1), text), text
        assert not re.fullmatch(constrain.regex(3), text.replace("A small forest.", "x")), text


def test_json_schema_wraps_the_same_pattern_and_answers_unwrap():
    schema = json.loads(constrain.json_schema(2))
    assert schema["properties"]["caption"]["pattern"] == f"^{constrain.regex(2)}$"
    assert schema["required"] == ["caption"]
    assert constrain.caption_from_json('{"caption": "A road."}') == "A road."
    assert constrain.caption_from_json("A road.") == "A road."


def test_llama_cpp_compiles_the_grammar():
    llama_cpp = pytest.importorskip("llama_cpp")
    for task in (1, 2, 3):
        grammar = llama_cpp.LlamaGrammar.from_string(constrain.gbnf(task), verbose=False)
        assert grammar is not None
    lo, hi = constrain.word_range(1)
    assert f"(sep word){{{lo - 1},{hi - 1}}}" in constrain.gbnf(1)


def test_back_ends_refuse_a_constraint_they_cannot_send():
    with pytest.raises(BackendError, match="the local back end cannot constrain decoding with "
                                           "'regex': choose --constrain among auto, none, grammar"):
        create_backend("local", BackendOptions(constrain="regex"))
    with pytest.raises(BackendError, match="unknown --prompt-mode 'raw'"):
        create_backend("openai", BackendOptions(urls=("http://x",), prompt_mode="raw"))
    smollm2 = create_backend("local", BackendOptions(model="smollm2-135m"))
    assert smollm2.decoding() == {"prompt_mode": "chat", "constrain": "grammar"}
    default = create_backend("local", BackendOptions())  # gemma3-270m, a base model
    assert default.decoding() == {"prompt_mode": "completion", "constrain": "none"}
    gemma = create_backend("local", BackendOptions(constrain="grammar"))
    assert gemma.decoding() == {"prompt_mode": "completion", "constrain": "grammar"}
    assert create_backend("sglang", BackendOptions(urls=("http://x",))).constraint == "regex"
    assert create_backend("openai", BackendOptions(urls=("http://x",))).constraint == "none"
