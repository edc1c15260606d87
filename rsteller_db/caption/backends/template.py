"""``template``: deterministic captions composed from the payload's facts, no model.

For instant runs, tests, and as the fall-back when a model's caption stays rejected. Each fact
(what the element is and where, its size, shape, course, length, whether it runs past the
frame, the places and named features around it) has several phrasings; the job's seed picks
one per fact, so the same facts read differently from patch to patch while the same job always
gives the same caption. Kind names come from ``sql/10_seeds/kind_nouns.csv`` ("a cycle path",
not "a cycleway road"). A Task 3 revision is composed anew from its source's facts (the
``facts`` of a revision request) with other sentence shapes, keeping exactly the names the
source caption uses; only the sentence right after the one that names the subject may start
with "It".
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from ...paths import sql_folder
from .base import Backend, Completion, Job
from .registry import register

ANNOTATOR = "rsteller-db/template"
VIEWS = ("image", "picture", "scene", "photo", "view", "frame", "shot", "tile", "photograph")
# other ways to say a grid cell (grid_cells.csv words), all read the same by wrong_position
POSITION_FORMS = {
    "the top-left corner": ("the upper-left corner", "the upper left corner"),
    "the top-right corner": ("the upper-right corner", "the upper right corner"),
    "the bottom-left corner": ("the lower-left corner", "the lower left corner"),
    "the bottom-right corner": ("the lower-right corner", "the lower right corner"),
    "the top middle": ("the upper middle", "the top centre"),
    "the bottom middle": ("the lower middle", "the bottom centre"),
    "the center": ("the very center", "the middle"),
    "the middle of the left side": ("the middle of the left side", "the left edge, halfway up",
                                    "the centre of the left side"),
    "the middle of the right side": ("the middle of the right side",
                                     "the right edge, halfway up", "the centre of the right side"),
}
# other ways to say a course (descriptor_words: orientation)
COURSE_FORMS = {
    "along an east-west line": ("on an east-west line", "following an east-west line"),
    "along a north-south line": ("on a north-south line", "following a north-south line"),
    "along a southwest-northeast diagonal": ("on a southwest-northeast diagonal",),
    "along a northwest-southeast diagonal": ("on a northwest-southeast diagonal",),
}


@dataclass(frozen=True)
class Kind:
    noun: str  # "residential area"
    referents: tuple[str, ...]  # later mentions: "neighborhood", "housing", ...
    looks: tuple[str, ...]  # hedged sentences on what it likely looks like from above


@cache
def kind_nouns() -> list[tuple[str, str, Kind]]:
    """(key, value or '' for any value, kind) rows of the seed, in priority order."""
    def alternatives(text: str | None) -> tuple[str, ...]:
        return tuple(a.strip() for a in (text or "").split("|") if a.strip())

    with open(sql_folder("seeds") / "kind_nouns.csv", newline="") as f:
        return [
            (r["key"], r["value"], Kind(r["noun"], alternatives(r["referents"]) or (r["noun"],),
                                        alternatives(r["looks"])))
            for r in csv.DictReader(f)
        ]


def _tag_map(payload: dict) -> dict[str, str]:
    """The element's tags as a dict, from a ``{key: value}`` map or a list of ``{key, value}``."""
    tags = (payload.get("element") or {}).get("tags")
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(t.get("key")): str(t.get("value")) for t in tags if isinstance(t, dict)}
    return {}


def kind(payload: dict) -> Kind:
    """What the element is, in plain English: 'pond', 'residential area', 'cycle path'."""
    tags = _tag_map(payload)
    for key, value, found in kind_nouns():
        if key in tags and (not value or tags[key] == value):
            return found
    line = (payload.get("geometry") or {}).get("kind") == "line"
    for key, value in tags.items():
        if value not in ("yes", "no") and key not in ("name", "surface", "lanes"):
            noun = re.sub(r"[_:;=]+", " ", value).strip() + ("" if line else " area")
            return Kind(noun, (noun,), ())
    return Kind("feature", ("feature",), ())


def kind_of(payload: dict) -> str:
    return kind(payload).noun


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(payload: dict) -> str | None:
    name = (payload.get("element") or {}).get("name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def _places(payload: dict) -> list[str]:
    patch = payload.get("patch") or {}
    return [p["name"] for p in patch.get("places") or [] if isinstance(p, dict) and p.get("name")]


def _features(payload: dict) -> list[str]:
    return [f for f in (payload.get("patch") or {}).get("features") or [] if isinstance(f, str)]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _Writer:
    """Sentences about one element, phrasings drawn from one seeded generator."""

    def __init__(self, payload: dict, seed: int, names: set[str] | None = None,
                 source: str | None = None):
        self.rng = random.Random(seed)
        self.source = source  # a revision keeps the source's hedged sentences, adds none
        self.g = payload.get("geometry") or {}
        self.kind = kind(payload)
        self.noun = self.kind.noun
        self._refs = list(self.kind.referents)
        self.rng.shuffle(self._refs)
        self._turn = 0
        self.used: set[str] = set()
        self.pronoun_ok = False  # "It" may open only the sentence after the subject's
        keep = (lambda n: True) if names is None else (lambda n: n.lower() in names)
        name = _name(payload)
        self.name = name if name and keep(name) else None
        self.places = [p for p in _places(payload) if keep(p)][:1]
        self.features = [f for f in _features(payload) if keep(f)][:2]
        self.view = self.pick(*VIEWS)

    def pick(self, *options):
        """One of the options; callables are called only when picked (they may use ref())."""
        chosen = self.rng.choice(options)
        return chosen() if callable(chosen) else chosen

    def reword(self, phrase: str) -> str:
        """A fact phrase of ours (descriptor_words) in this caption's words: its closing "of the
        view" and an opening "about" said another way."""
        phrase = re.sub(r"\bof the view\b", f"of the {self.view}", phrase)
        if not phrase.startswith("about "):
            return phrase
        rest = phrase[len("about "):]
        # "some" reads before a number ("some 270 metres"), not before "the full width"
        about = self.pick("about", "roughly", "around", "approximately",
                          *(("some",) if rest[:1].isdigit() else ()))
        return f"{about} {rest}"

    def place(self, where: str) -> str:
        """A position phrase in one of its equivalent forms."""
        forms = POSITION_FORMS.get(where)
        return self.pick(where, *forms) if forms else where

    def ref(self) -> str:
        """The next way to call the element again: 'the neighborhood', 'the housing', ..."""
        self._turn += 1
        return "the " + self._refs[self._turn % len(self._refs)]

    def it(self) -> str:
        """'It' right after the sentence that names the subject, else 'The <referent>'."""
        if self.pronoun_ok:
            self.pronoun_ok = False
            return "It"
        return _cap(self.ref())

    def its(self) -> str:
        if self.pronoun_ok:
            self.pronoun_ok = False
            return "Its"
        ref = _cap(self.ref())
        return ref + ("'" if ref.endswith("s") else "'s")

    def looks(self) -> list[str]:
        options = self.kind.looks
        if self.source is not None:  # only what the source said (its first word may differ)
            options = tuple(t for t in options if t.split(" ", 1)[-1][:-1] in self.source)
        options = tuple(t for t in options if t not in self.used)
        if not self.pronoun_ok:  # prefer a sentence that does not open with It / Its
            options = tuple(t for t in options if not re.match(r"Its? ", t)) or options
        if not options:
            return []
        text = self.pick(*options)
        self.used.add(text)
        if text.startswith("Its "):
            return [self.its() + text[3:]]
        if text.startswith("It "):
            return [self.it() + text[2:]]
        self.pronoun_ok = False
        return [text]

    def subject(self) -> str:
        """'a pond called Hollow Pond', 'Hollow Pond, a pond,' or 'a pond'."""
        if not self.name:
            return article(self.noun)
        return self.pick(
            f"{article(self.noun)} called {self.name}",
            f"{article(self.noun)} named {self.name}",
            f"{self.name}, {article(self.noun)},",
        )

    def context(self) -> list[str]:
        out = []
        if self.places:
            place = self.places[0]
            out.append(self.pick(
                f"The {self.view} lies within {place}.",
                f"This spot is part of {place}.",
                f"All of this belongs to {place}.",
                f"The setting is {place}.",
                f"{place} is the place around it.",
                f"This corner of the countryside lies in {place}.",
            ))
        if self.features:
            these = _join(self.features)
            one = len(self.features) == 1
            out.append(self.pick(
                f"{these} can also be seen here.",
                f"{these} also {'appears' if one else 'appear'} in view.",
                f"Nearby in the frame: {these}.",
                f"{these} {'shares' if one else 'share'} the {self.view} with it.",
                f"Close by {'is' if one else 'are'} {these}.",
                f"Its neighbours in the {self.view} include {these}.".replace(
                    "Its", "The " + self.view + "'s", 1).replace(f" in the {self.view}", ""),
            ))
        return out

    def beyond(self) -> str:
        ref = self.ref()
        self.pronoun_ok = False
        if self.g.get("extends_beyond_view"):
            return self.pick(
                f"{_cap(ref)} carries on past the border of the frame.",
                f"Part of {ref} lies outside the {self.view}.",
                f"Not all of {ref} fits in the frame; it runs on beyond the edges.",
                f"The frame cuts {ref} off, so more of it lies out of sight.",
                f"Beyond the borders {ref} keeps going.",
                f"{_cap(ref)} extends further than this crop shows.",
                f"More of {ref} continues outside this tile.",
            )
        return self.pick(
            f"The whole of {ref} fits inside the frame.",
            f"All of {ref} is visible.",
            f"Nothing of {ref} is cut off by the edges of the {self.view}.",
            f"The frame holds {ref} entirely.",
            f"{_cap(ref)} ends well inside this tile.",
        )


def _words(value: Any) -> str | None:
    if isinstance(value, list):
        value = " and ".join(str(v) for v in value[:2] if v)
    return value.strip() if isinstance(value, str) and value.strip() else None


def area_caption(payload: dict, seed: int = 0, names: set[str] | None = None,
                 source: str | None = None) -> str:
    w, g = _Writer(payload, seed, names, source), payload.get("geometry") or {}
    cells = g.get("position_words") or []
    where = _join([w.place(c) for c in cells]) if cells else "the middle of the view"
    s = w.subject()
    sentences = [w.pick(
        f"{_cap(s)} lies in {where} of this {w.view}.",
        f"In {where} of the {w.view} lies {s.rstrip(',')}.",
        f"{_cap(where)} of the {w.view} is taken up by {s.rstrip(',')}.",
        f"{_cap(s)} occupies {where} of the {w.view}.",
        f"Seen from above, {s} sits in {where}.",
        f"Looking down on {where}, one finds {s.rstrip(',')}.",
        f"This overhead {w.view} shows {s.rstrip(',')} in {where}.",
        f"Photographed from the air, {s} appears in {where}.",
    )]
    w.pronoun_ok = True
    sentences += w.looks()
    if len(w.kind.looks) > 2 and (w.source is not None or w.rng.random() < 0.9):
        sentences += w.looks()
    size = _words(g.get("size_words"))
    if size:
        verb = w.pick("covers", "takes up", "spreads over", "fills", "accounts for", "claims",
                      "extends across", "makes up", "stretches over")
        sentences.append(f"{w.it()} {verb} {w.reword(size)}.")
    shape = _words(g.get("shape_words"))
    if shape and " " in shape:  # "made of several separate parts"
        sentences.append(w.pick(lambda: f"{_cap(w.ref())} is {shape}.",
                                lambda: f"Rather than one piece, {w.ref()} is {shape}."))
    elif shape:
        sentences.append(w.pick(
            lambda: f"{_cap(w.ref())} has {article(shape)} outline.",
            lambda: f"In outline {w.ref()} looks {shape}.",
            lambda: f"{w.its()} edges trace {article(shape)} form.",
            lambda: f"From overhead the shape of {w.ref()} is {shape}.",
            lambda: f"Traced on the ground, {w.ref()} forms {article(shape)} figure.",
            lambda: f"Its boundary draws {article(shape)} shape." if w.pronoun_ok
            else f"A {shape} boundary encloses {w.ref()}.",
        ))
    w.pronoun_ok = False
    sentences.append(w.beyond())
    sentences += w.context()
    return " ".join(sentences)


def line_caption(payload: dict, seed: int = 0, names: set[str] | None = None,
                 source: str | None = None) -> str:
    w, g = _Writer(payload, seed, names, source), payload.get("geometry") or {}
    start, end = _words(g.get("start_words")), _words(g.get("end_words"))
    start, end = (w.place(start) if start else None), (w.place(end) if end else None)
    s = w.subject()
    if start and end and g.get("start_position") == g.get("end_position"):
        path = f"within {start}"  # not "from the top-left corner to the upper left"
    else:
        path = f"from {start} to {end}" if start and end else "across the scene"
    sentences = [w.pick(
        f"{_cap(s)} crosses this {w.view} {path}.",
        f"{_cap(path)}, {s.rstrip(',')} cuts across the {w.view}.",
        f"{_cap(s)} runs {path} in this {w.view}.",
        f"Seen from above, {s} stretches {path}.",
        f"{_cap(s)} leads {path}.",
        f"This overhead {w.view} follows {s.rstrip(',')} {path}.",
        f"Photographed from the air, {s} travels {path}.",
    )]
    w.pronoun_ok = True
    course, heading = _words(g.get("sinuosity_words")), _words(g.get("orientation_words"))
    if heading in COURSE_FORMS:
        heading = w.pick(heading, *COURSE_FORMS[heading])
    if course or heading:
        course = course or "runs"
        sentences.append(w.pick(
            lambda: f"{w.it()} {course}{' ' + heading if heading else ''}.",
            lambda: f"On its way {w.ref()} {course}{', ' + heading if heading else ''}.",
            lambda: f"Over its length {w.ref()} {course}{', ' + heading if heading else ''}.",
            lambda: f"Followed end to end, {w.ref()} {course}"
                    f"{', ' + heading if heading else ''}.",
        ))
    w.pronoun_ok = False
    sentences += w.looks()
    reach, length = _words(g.get("length_words")), g.get("length_m")
    if reach:
        reach = w.reword(reach)
        sentences.append(w.pick(
            lambda: f"The visible part spans {reach}.",
            lambda: f"{w.its()} visible stretch covers {reach}.",
            lambda: f"In the frame {w.ref()} reaches {reach}.",
            lambda: f"What shows of {w.ref()} measures {reach}.",
        ))
    if isinstance(length, int | float):
        metres = _metres(float(length))
        sentences.append(w.pick(
            lambda: f"About {metres} metres of {w.ref()} can be seen.",
            lambda: f"Roughly {metres} metres of {w.ref()} are in view.",
            lambda: f"Some {metres} metres of {w.ref()} show in the {w.view}.",
            lambda: f"The {w.view} holds roughly {metres} metres of {w.ref()}.",
        ))
    sentences.append(w.beyond())
    sentences += w.context()
    return " ".join(sentences)


def _metres(length: float) -> str:
    """A length as a caption says it, never more than 5 % off (what unknown_number allows):
    to 10 m from 100 m on ('270'), to the metre from 10 m ('85' for 85.3, not '90'), to 0.1 m
    below that."""
    if length >= 100:
        return f"{round(length, -1):.0f}"
    if length >= 10:
        return f"{round(length):.0f}"
    return f"{length:.1f}".rstrip("0").rstrip(".")


def _source_names(source: str, facts: dict) -> set[str]:
    """The facts' names (element, places, features) that the source caption uses."""
    lowered = source.lower()
    names = [_name(facts) or "", *_places(facts), *_features(facts)]
    return {n.lower() for n in names if n and n.lower() in lowered}


def revision_caption(payload: dict, seed: int = 0) -> str:
    """A rewording of the source caption: composed anew from the facts it was written from
    (other phrasings: another seed), with exactly the source's names; the subject comes first."""
    source = str(payload.get("caption") or "")
    facts = payload.get("facts")
    if isinstance(facts, dict) and facts.get("geometry"):
        names = _source_names(source, facts)
        compose = line_caption if facts["geometry"].get("kind") == "line" else area_caption
        opening = re.split(r"(?<=[.!?])\s+", source)[0]
        for attempt in range(12):  # another shape: at least another opening sentence
            text = compose(facts, seed * 7919 + attempt + 1, names, source)
            if not text.startswith(opening):
                return text
        return text
    # no facts (a request from before revisions carried them): the source's sentences, the
    # first one last, each "It" at a sentence start replaced by what the first one is about
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", source) if p.strip()]
    if len(parts) < 2:
        return source
    head = re.sub(r"^(An?|The)\s+", "", parts[0].split(" lies ")[0].split(" crosses ")[0])
    subject = "The " + head.split(",")[0].strip()
    rest = [re.sub(r"^It\b", subject, p) for p in parts[1:]]
    return " ".join([rest[0], *rest[1:], parts[0]])


@register
class TemplateBackend(Backend):
    name = "template"
    max_batch = 512

    def start(self) -> str:
        self.annotator = ANNOTATOR
        return self.annotator

    def _compose(self, job: Job) -> str:
        if job.task == 3:
            return revision_caption(job.payload, job.seed)
        compose = line_caption if job.task == 2 else area_caption
        return compose(job.payload, job.seed)

    def generate(self, jobs: list[Job]) -> list[Completion]:
        return [Completion(self._compose(job), ANNOTATOR, 0, 0, 0.0) for job in jobs]

    def decoding(self) -> dict:
        return {}  # no model: no prompt mode, nothing to constrain

    def describe(self) -> str:
        return "template"
