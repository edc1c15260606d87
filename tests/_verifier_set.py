"""The verifier's labelled set (tests/data/): captions written from the sample's caption
requests and a few hand-made payloads of the same shape, and captions the embedded models wrote
for the sample's requests (``origin`` says which), each labelled ``ok`` (faithful) or
with the kind of error it holds (``unknown_name``, ``wrong_position``, ...). ``judge`` renders
each request's prompt with prompts/ as a caption run does and runs the caption rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rsteller_db.caption.render import render_request
from rsteller_db.caption.rules import Candidate, RuleBook

DATA = Path(__file__).parent / "data"
PROMPT_NAMES = {1: "task1_area", 2: "task2_line", 3: "task3_revision"}


@dataclass(frozen=True)
class Case:
    payload_key: str
    task: int
    label: str
    text: str
    source: str | None = None
    origin: str | None = None  # a model's own caption (from a bench run); None: hand-written

    @property
    def faithful(self) -> bool:
        return self.label == "ok"


def load_cases() -> tuple[dict, list[Case]]:
    payloads = json.loads((DATA / "verifier_payloads.json").read_text())
    lines = (DATA / "verifier_captions.jsonl").read_text().splitlines()
    cases = []
    for line in lines:
        row = json.loads(line)
        cases.append(
            Case(row["payload"], row["task"], row["label"], row["text"], row.get("source"),
                 row.get("origin"))
        )
    return payloads, cases


def request_payload(payloads: dict, case: Case) -> dict:
    """The payload a caption request (Task 1/2) or a revision request (Task 3) would carry."""
    facts = payloads[case.payload_key]
    if case.task != 3:
        return facts
    return {
        "caption": case.source,
        "source_caption_id": f"{case.payload_key}-a1",
        "source_task": facts["task"],
        "revision": 1,
        "examples_key": 1,  # shows revision examples 1, 6, 11, 4, 9 (golf course, highway, ...)
        "facts": {k: facts[k] for k in ("patch", "element", "geometry")},
    }


def judge(payloads: dict, cases: list[Case]) -> list[str | None]:
    """The rule that rejects each case (None: accepted), in order."""
    candidates = []
    for i, case in enumerate(cases):
        payload = request_payload(payloads, case)
        prompt, _ = render_request(PROMPT_NAMES[case.task], payload)
        candidates.append(
            Candidate(f"c{i}", f"r{i}", case.task, case.text, json.dumps(payload), prompt.text)
        )
    book = RuleBook()
    try:
        verdicts = book.check(candidates)
    finally:
        book.close()
    return [verdicts.get(f"c{i}") for i in range(len(cases))]


def scores(cases: list[Case], verdicts: list[str | None]) -> dict:
    """Precision and recall of rejecting the unfaithful captions."""
    tp = sum(1 for c, v in zip(cases, verdicts, strict=True) if not c.faithful and v)
    fp = sum(1 for c, v in zip(cases, verdicts, strict=True) if c.faithful and v)
    fn = sum(1 for c, v in zip(cases, verdicts, strict=True) if not c.faithful and not v)
    return {
        "cases": len(cases),
        "faithful": sum(c.faithful for c in cases),
        "unfaithful": sum(not c.faithful for c in cases),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }
