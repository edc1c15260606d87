"""``template``: deterministic captions composed from the payload's facts, no model.

For instant runs and tests. Task 1/2 captions are sentences built from the element's kind,
name, position, shape and size; a Task 3 revision reorders the source caption's sentences
under a new opening. Same payload, same caption.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Backend, Completion, Job
from .registry import register

ANNOTATOR = "rsteller-db/template"
# OSM keys whose value names the kind of thing ("forest", "residential", ...).
KIND_KEYS = (
    "landuse",
    "natural",
    "leisure",
    "amenity",
    "building",
    "waterway",
    "highway",
    "railway",
    "man_made",
    "shop",
    "tourism",
    "water",
    "aeroway",
    "power",
    "place",
)
NOUNS = {"highway": "road", "railway": "railway line", "building": "building"}
AREA_WORDS = {
    "residential",
    "commercial",
    "industrial",
    "retail",
    "water",
    "parking",
    "construction",
}


def find(payload: Any, *keys: str) -> Any:
    """The first value stored under any of ``keys``, searching nested objects depth-first."""
    if isinstance(payload, dict):
        for key in keys:
            if payload.get(key) not in (None, "", [], {}):
                return payload[key]
        for value in payload.values():
            hit = find(value, *keys)
            if hit is not None:
                return hit
    elif isinstance(payload, list):
        for value in payload:
            hit = find(value, *keys)
            if hit is not None:
                return hit
    return None


def _words(text: Any) -> str:
    return re.sub(r"[_:;=]+", " ", str(text)).strip()


def share_in_words(share: float) -> str:
    bands = [
        (0.9, "nearly all"),
        (0.6, "most"),
        (0.5, "more than half"),
        (0.4, "almost half"),
        (0.3, "about a third"),
        (0.2, "about a quarter"),
        (0.1, "a small part"),
    ]
    return next((words for floor, words in bands if share >= floor), "a very small part")


def _tag_map(payload: dict) -> dict[str, str]:
    """The element's tags as a dict, from a ``{key: value}`` map or a list of ``{key, value}``."""
    tags = find(payload, "tags")
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(t.get("key")): str(t.get("value")) for t in tags if isinstance(t, dict)}
    return {}


def kind_of(payload: dict) -> str:
    """A plain noun phrase for the element: 'forest', 'residential area', 'primary road'."""
    tags = _tag_map(payload)
    for key in KIND_KEYS:
        value = tags.get(key)
        if value and value not in ("yes", "no"):
            noun = NOUNS.get(key) or ("area" if value in AREA_WORDS else None)
            if noun is None or noun in value or value in noun:
                return _words(noun if noun and value in noun else value)
            return _words(f"{value} {noun}")
        if value == "yes":
            return NOUNS.get(key, _words(key))
    return "feature"


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = " and ".join(str(v) for v in value[:2] if v)
    return _words(value) if isinstance(value, str) and value.strip() else None


def _name(payload: dict) -> str | None:
    element = payload.get("element") if isinstance(payload.get("element"), dict) else payload
    name = element.get("name") or _tag_map(payload).get("name")
    return name if isinstance(name, str) and name.strip() else None


def area_caption(payload: dict) -> str:
    kind = kind_of(payload)
    shape = _text(find(payload, "shape_words", "shape"))
    where = (
        _text(find(payload, "position_words", "positions", "position")) or "the middle of the view"
    )
    size = _text(find(payload, "size_words"))
    share = find(payload, "area_norm")
    name = _name(payload)
    subject = _article(f"{shape} {kind}" if shape and " " not in shape else kind)
    named = f" called {name}" if name else ""
    sentences = [f"{subject.capitalize()}{named} lies in {where} of this aerial view"]
    if size:
        sentences.append(f"It takes up {size}")
    elif isinstance(share, int | float):
        sentences.append(f"It takes up {share_in_words(float(share))} of the image")
    if shape and " " in shape:
        sentences.append(f"It is {shape}")
    if find(payload, "extends_beyond_view", "is_clipped"):
        sentences.append("It continues beyond the edges of the image")
    sentences.append(f"The {kind} stands out clearly from its surroundings when seen from above")
    return ". ".join(sentences) + "."


def line_caption(payload: dict) -> str:
    kind = kind_of(payload)
    name = _name(payload)
    start = _text(find(payload, "start_words", "start_position"))
    end = _text(find(payload, "end_words", "end_position"))
    heading = _text(find(payload, "orientation_words"))
    course = _text(find(payload, "sinuosity_words"))
    reach = _text(find(payload, "length_words"))
    length = find(payload, "length_m")
    named = f" named {name}" if name else ""
    path = f" from {start} to {end}" if start and end else " across the scene"
    sentences = [f"{_article(kind).capitalize()}{named} crosses this aerial view{path}"]
    if heading or course:
        sentences.append(f"It {course or 'runs'}{' ' + heading if heading else ''}")
    if reach:
        sentences.append(f"It covers {reach}")
    if isinstance(length, int | float):
        sentences.append(f"About {round(float(length), -1):.0f} metres of it can be seen")
    sentences.append(f"The {kind} is easy to follow through the surrounding land")
    return ". ".join(sentences) + "."


def revision_caption(payload: dict) -> str:
    source = str(find(payload, "caption") or "")
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", source) if p.strip()]
    if len(parts) > 1:
        parts = parts[1:] + parts[:1]
    body = " ".join(parts)
    body = body[:1].lower() + body[1:] if body else "an aerial view of the area"
    return f"Seen from above, {body}".replace("\n", " ")


COMPOSERS = {1: area_caption, 2: line_caption, 3: revision_caption}


@register
class TemplateBackend(Backend):
    name = "template"
    max_batch = 512

    def start(self) -> str:
        self.annotator = ANNOTATOR
        return self.annotator

    def generate(self, jobs: list[Job]) -> list[Completion]:
        return [Completion(COMPOSERS[job.task](job.payload), ANNOTATOR, 0, 0, 0.0) for job in jobs]

    def decoding(self) -> dict:
        return {}  # no model: no prompt mode, nothing to constrain

    def describe(self) -> str:
        return "template"
