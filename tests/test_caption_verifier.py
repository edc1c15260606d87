"""The payload-aware caption rules (sql/50_caption_rules/22_ and up) on the labelled set in
tests/data/ (see _verifier_set.py): precision and recall of rejecting unfaithful captions,
every new rule with captions that must pass and captions that must fail, and
`caption rules --check --request` against a warehouse."""

from __future__ import annotations

import json
from collections import Counter

import duckdb
import pytest
from _verifier_set import judge, load_cases, request_payload, scores

NEW_RULES = (
    "copied_example",
    "unknown_name",
    "unknown_number",
    "wrong_position",
    "wrong_course",
    "not_a_revision",
    "off_topic",
    "invented_feature",
    "wrong_shape",
)


@pytest.fixture(scope="module")
def judged():
    payloads, cases = load_cases()
    return payloads, cases, judge(payloads, cases)


def test_precision_and_recall_on_the_labelled_set(judged):
    _, cases, verdicts = judged
    figures = scores(cases, verdicts)
    print(f"\nverifier on the labelled set: {json.dumps(figures)}")
    assert figures["cases"] >= 200
    assert set(Counter(c.label for c in cases)) == {"ok", *NEW_RULES}
    assert figures["precision"] >= 0.9 and figures["recall"] >= 0.9, figures


def test_every_new_rule_rejects_its_captions_and_passes_the_faithful_ones(judged):
    _, cases, verdicts = judged
    faithful_verdicts = Counter(v for c, v in zip(cases, verdicts, strict=True) if c.faithful)
    for rule in NEW_RULES:
        own = [v for c, v in zip(cases, verdicts, strict=True) if c.label == rule]
        assert own.count(rule) >= 3, (rule, Counter(own))  # captions that must fail
        assert faithful_verdicts[rule] == 0, rule  # captions that must pass
    assert faithful_verdicts[None] >= 100


PINE = "Pine Street, a residential street, runs straight from the left edge to the right edge."
PINE_KEY = "pine_street_center-left_to_center-right"  # the labelled set's copy of its payload


def _request_of(warehouse, name: str, task: int) -> str:
    """The sample's request whose element is called ``name``."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (request_id,) = con.execute(
            "select request_id from caption_requests where task = ? "
            "and json_extract_string(payload, '$.element.name') = ?", [task, name]).fetchone()
    return request_id


@pytest.mark.parametrize(
    ("text", "task", "expected"),
    [
        (PINE, None, "accepted,"),
        (PINE.replace("Pine", "Oak"), None, "rejected,unknown_name"),
        (PINE.replace("the left edge", "the top-left corner"), "2", "rejected,wrong_position"),
        (PINE.replace("runs straight", "runs north to south"), None, "rejected,wrong_course"),
        (PINE.replace("a residential", "a 4-lane"), None, "rejected,unknown_number"),
    ],
)
def test_rules_check_against_a_request_from_the_cli(cli, sample_warehouse, text, task, expected):
    """Pine Street's request in the sample, whose payload the labelled set holds."""
    request_id = _request_of(sample_warehouse, "Pine Street", 2)
    payloads, _ = load_cases()
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        (payload,) = con.execute("select payload from caption_requests where request_id = ?",
                                 [request_id]).fetchone()
    assert json.loads(payload) == payloads[PINE_KEY]
    args = ["-w", str(sample_warehouse), "caption", "rules", "--request", request_id,
            "--check", text]
    out = cli(*args, *(["--task", task] if task else []), "--format", "csv")
    assert out.exit_code == 0, out.output
    assert out.output == f"status,rule\n{expected}\n"
    # without --request only the text is judged, as before
    plain = cli("caption", "rules", "--check", PINE.replace("Pine", "Oak"), "--task", "2",
                "--format", "csv")
    assert plain.output == "status,rule\naccepted,\n"


def test_rules_check_request_errors_name_the_fix(cli, sample_warehouse):
    path = sample_warehouse
    missing = cli("-w", str(path), "caption", "rules", "--request", "9-t1", "--check", PINE)
    assert missing.exit_code == 1
    assert missing.output.startswith(
        "Error: no request '9-t1' in caption_requests or revision_requests of "
    )
    with duckdb.connect(str(path), read_only=True) as con:
        (area,) = con.execute("select min(request_id) from caption_requests where task = 1"
                              ).fetchone()
    wrong = cli("-w", str(path), "caption", "rules", "--request", area, "--check", PINE,
                "--task", "3")
    assert wrong.exit_code == 2
    assert f"request {area} is a Task 1 request, not Task 3" in wrong.output
    bare = cli("-w", str(path), "caption", "rules", "--request", area)
    assert bare.exit_code == 2 and "--request judges the caption given with --check" in bare.output


def test_revisions_are_checked_against_their_source_facts(judged):
    payloads, cases, verdicts = judged
    revision = next(c for c in cases if c.task == 3 and c.label == "wrong_position")
    payload = request_payload(payloads, revision)
    assert payload["facts"]["geometry"] == payloads[revision.payload_key]["geometry"]
    assert verdicts[cases.index(revision)] == "wrong_position"
