"""The template back end's text: English kind names, several phrasings chosen by seed, Task 3
revisions composed anew with the source's names, complete sentences, and every rule passed."""

from __future__ import annotations

import json
import re

import pytest
from _verifier_set import PROMPT_NAMES, load_cases

from rsteller_db.caption.backends import BackendOptions, Job, create_backend
from rsteller_db.caption.backends.template import kind, kind_of
from rsteller_db.caption.render import render_request
from rsteller_db.caption.rules import Candidate, RuleBook

SEEDS = range(1, 7)
SENTENCES = re.compile(r"(?<=[.!?])\s+")


def _revision_payload(caption: str, facts: dict) -> dict:
    return {"caption": caption, "examples_key": 3,
            "facts": {k: facts[k] for k in ("patch", "element", "geometry")}}


@pytest.fixture(scope="module")
def written():
    """Captions and revisions for every labelled-set payload under several seeds."""
    payloads, _ = load_cases()
    backend = create_backend("template", BackendOptions())
    backend.start()
    out = []
    for seed in SEEDS:
        for key, payload in payloads.items():
            text = backend.generate([Job("k", payload["task"], "", seed, payload)])[0].text
            revision = _revision_payload(text, payload)
            rewritten = backend.generate([Job("r", 3, "", seed + 50, revision)])[0].text
            out.append((key, seed, payload, text, revision, rewritten))
    return out


def test_kind_names_are_english():
    def of(**tags):
        return kind_of({"element": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}})

    assert of(highway="cycleway") == "cycle path"
    assert of(highway="footway", surface="gravel") == "footpath"
    assert of(natural="water", water="pond") == "pond"
    assert of(landuse="farmland", crop="soy") == "stretch of farmland"
    assert of(highway="bus_guideway") == "road"
    assert of(craft="brewery") == "brewery area"
    assert kind({"element": {"tags": []}}).noun == "feature"


def test_phrasings_vary_with_the_seed_and_repeat_with_it(written):
    by_key: dict[str, set[str]] = {}
    for key, _, _, text, _, _ in written:
        by_key.setdefault(key, set()).add(text)
    assert all(len(texts) >= 4 for texts in by_key.values()), by_key  # 6 seeds
    backend = create_backend("template", BackendOptions())
    key, seed, payload, text, _, _ = written[0]
    assert backend.generate([Job("again", payload["task"], "x", seed, payload)])[0].text == text


def test_every_caption_and_revision_passes_every_rule(written):
    candidates = []
    for i, (_, _, payload, text, revision, rewritten) in enumerate(written):
        prompt, _ = render_request(PROMPT_NAMES[payload["task"]], payload)
        candidates.append(Candidate(f"c{i}", "r", payload["task"], text, json.dumps(payload),
                                    prompt.text))
        prompt, _ = render_request("task3_revision", revision)
        candidates.append(Candidate(f"r{i}", "r", 3, rewritten, json.dumps(revision),
                                    prompt.text))
    book = RuleBook()
    try:
        assert book.check(candidates) == {}
    finally:
        book.close()


def test_sentences_are_complete_and_it_has_a_subject(written):
    for _key, _, payload, text, _, rewritten in written:
        k = kind(payload)
        subjects = [k.noun, *k.referents, payload["element"].get("name") or k.noun]
        for caption in (text, rewritten):
            sentences = SENTENCES.split(caption)
            assert all(s[:1].isupper() and s[-1] in ".!?" for s in sentences), caption
            for before, sentence in zip(sentences, sentences[1:], strict=False):
                if re.match(r"Its?\b", sentence):
                    assert any(x.lower() in before.lower() for x in subjects), caption


def test_revisions_restructure_and_keep_the_source_names(written):
    for _, _, payload, text, _, rewritten in written:
        assert rewritten != text
        assert SENTENCES.split(rewritten)[0] != SENTENCES.split(text)[0]
        names = [payload["element"].get("name"), *payload["patch"]["features"],
                 *(p["name"] for p in payload["patch"]["places"])]
        for name in filter(None, names):
            assert (name in text) == (name in rewritten), (name, text, rewritten)


def test_hedges_fit_the_phrase_they_open(written):
    """'some' only before a number ("some 270 metres"), never "some the full width"."""
    for _key, _, _, text, _, rewritten in written:
        for caption in (text, rewritten):
            assert not re.search(r"\bsome (the|a|an|half|about|nearly)\b", caption), caption
            assert not re.search(r"\b(about|roughly|around) (about|roughly|around)\b", caption)


def _scale_line(tags: list[dict], cell: str, course: str, length_m: float) -> dict:
    """A Task 2 payload as the stages render it over bench/scale_world's synthetic town (where
    the template once wrote '90 metres' for 85.3 m, 'tree row area', and 'from the top-left
    corner to the upper left corner')."""
    words = {"top-left": "the top-left corner", "bottom-right": "the bottom-right corner"}[cell]
    return {"task": 2,
            "patch": {"patch_id": 1, "image_name": "m_4107459_ne_18_060_20220815",
                      "acquired_on": "2022-08-15", "side_m": 268.8,
                      "places": [{"name": "Pike County", "what": "county"}],
                      "features": ["Street 17835", "Bakery 17567"]},
            "element": {"element_id": 2, "osm_type": "way", "osm_id": 3, "name": None,
                        "tags": tags},
            "geometry": {"kind": "line", "start_position": cell, "start_words": words,
                         "start_edge_words": None, "end_position": cell, "end_words": words,
                         "end_edge_words": None, "sinuosity": course,
                         "sinuosity_words": {"twisted": "winds and twists",
                                             "closed": "forms a closed loop"}[course],
                         "orientation": "none", "orientation_words": "without one clear direction",
                         "length_m": length_m, "length_norm": 0.35,
                         "length_words": "about a third of the way across the view",
                         "extends_beyond_view": course != "closed"}}


@pytest.mark.parametrize("length_m", [95.0, 85.3, 84.9, 104.9, 7.44])
def test_line_lengths_stay_within_what_the_verifier_allows(length_m):
    fence = [{"key": "barrier", "value": "fence", "meaning": "A fence."}]
    row = [{"key": "natural", "value": "tree_row", "meaning": "A line of trees."}]
    backend = create_backend("template", BackendOptions())
    backend.start()
    book = RuleBook()
    try:
        written = {}  # one rule-book check for every caption: a check costs a query, not a row
        for tags, course in ((fence, "twisted"), (row, "closed")):
            payload = _scale_line(tags, "top-left", course, length_m)
            prompt, _ = render_request(PROMPT_NAMES[2], payload)
            for seed in SEEDS:
                text = backend.generate([Job("k", 2, "", seed, payload)])[0].text
                written[f"{course}-{seed}"] = (text, json.dumps(payload), prompt.text)
        rejected = book.check([Candidate(key, "r", 2, text, facts, prompt)
                               for key, (text, facts, prompt) in written.items()])
        assert rejected == {}, {key: (rule, written[key][0]) for key, rule in rejected.items()}
        for text, _, _ in written.values():
            metres = re.search(r"(\d+(?:\.\d+)?) metres", text)
            assert metres and abs(float(metres[1]) - length_m) <= 0.05 * length_m, text
            assert "tree row area" not in text and " to the upper left" not in text, text
            assert not re.search(r"from the (top-left|upper left) corner to", text), text
    finally:
        book.close()
