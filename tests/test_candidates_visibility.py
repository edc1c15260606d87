"""Visibility (sql/10_seeds/visibility_rules.csv, int_elements_hidden): what an aerial
photograph cannot show is never captioned, with a queryable reason; near-misses stay."""

from __future__ import annotations

import json

import pytest
from candidates_world import World

LINE = "LINESTRING(0.05 0.5, 0.95 0.5)"
AREA = "POLYGON((0.1 0.1, 0.9 0.1, 0.9 0.9, 0.1 0.9, 0.1 0.1))"
# (kind, tags, rule that hides it, or None when it must stay)
ELEMENTS = [
    ("line", {"waterway": "stream", "location": "underground"}, "underground"),
    ("line", {"highway": "primary", "tunnel": "yes"}, "tunnel"),
    ("line", {"waterway": "ditch", "tunnel": "culvert"}, "tunnel"),
    ("line", {"highway": "service", "covered": "yes"}, "covered"),
    ("line", {"highway": "footway", "layer": "-1"}, "negative_layer"),
    ("line", {"man_made": "pipeline", "substance": "gas"}, "pipeline"),
    ("line", {"power": "cable", "voltage": "10000"}, "cable"),
    ("line", {"communication": "line"}, "communication_cable"),
    ("area", {"indoor": "room", "name": "Room 12"}, "indoor"),
    ("area", {"shop": "clothes", "level": "1"}, "level"),
    ("line", {"highway": "proposed", "proposed": "primary"}, "lifecycle_value"),
    ("line", {"railway": "abandoned"}, "lifecycle_value"),
    ("area", {"building": "construction"}, "lifecycle_value"),
    ("line", {"route": "ferry", "name": "Lake Ferry"}, "route"),
    # staging keeps administrative lines apart (stg_osm__elements leaves out every element with
    # a boundary or admin_level tag), so this rule never sees one built by the real stages
    ("line", {"admin_level": "9", "name": "Ward line"}, "admin_level"),
    # near-misses: kept
    ("line", {"highway": "primary", "tunnel": "no"}, None),
    ("line", {"highway": "footway", "layer": "0"}, None),
    ("line", {"highway": "footway", "layer": "1", "bridge": "yes"}, None),
    ("line", {"man_made": "pipeline", "location": "overground"}, None),
    ("line", {"power": "cable", "location": "overhead"}, None),
    ("line", {"power": "line", "voltage": "115000"}, None),
    ("area", {"building": "retail", "level": "0"}, None),
    ("area", {"building": "house", "level": "1"}, None),
    ("area", {"landuse": "construction"}, None),
    ("line", {"railway": "rail", "disused:railway": "tram"}, None),
    ("area", {"covered": "no", "amenity": "parking"}, None),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("visibility"), seed=42, min_elements=1)
    w.add_image()
    ids = []
    for pid, (kind, tags, _) in enumerate(ELEMENTS, start=1):
        w.add_patch(pid, x0=480000.0 + 1000.0 * pid, y0=4540800.0)
        ids.append(w.add_element(kind, tags, LINE if kind == "line" else AREA, patch_id=pid))
    w.build()
    w.ids = ids
    yield w
    w.close()


STAGED_APART = {"admin_level"}


def test_each_rule_hides_its_elements_with_a_reason(world):
    hidden = {r["element_id"]: r for r in world.rows("from int_elements_hidden")}
    staged = {r["element_id"] for r in world.rows("select element_id from stg_osm__elements")}
    for element_id, (_, tags, rule) in zip(world.ids, ELEMENTS, strict=True):
        if rule in STAGED_APART:
            assert element_id not in staged and element_id not in hidden, tags
        elif rule is None:
            assert element_id not in hidden, tags
        else:
            assert hidden[element_id]["rule"] == rule, tags
            assert hidden[element_id]["skip_reason"].startswith(f"{rule}: "), tags


def test_hidden_elements_are_never_captioned_and_near_misses_are(world):
    requested = {r["element_id"] for r in world.rows("select element_id from caption_requests")}
    for element_id, (_, tags, rule) in zip(world.ids, ELEMENTS, strict=True):
        assert (element_id in requested) == (rule is None), tags
    skipped = world.rows(
        "select s.skip_reason from int_patches_selected s "
        "where s.patch_id = ?", [world.pid(ELEMENTS.index(ELEMENTS[1]) + 1)])
    assert skipped[0]["skip_reason"] is not None  # the tunnel's patch has no request


def test_lifecycle_prefixed_tags_are_never_described(world):
    pid = next(i for i, e in enumerate(ELEMENTS, start=1) if "disused:railway" in e[1])
    payload = json.loads(world.rows(
        "select payload from caption_requests where patch_id = ?", [world.pid(pid)])[0]["payload"])
    assert [t["key"] for t in payload["element"]["tags"]] == ["railway"]


def test_every_rule_says_why_and_is_covered_here():
    import csv

    from rsteller_db.paths import sql_folder

    with open(sql_folder("seeds") / "visibility_rules.csv") as f:
        rules = list(csv.DictReader(f))
    assert all(r["why"].strip() for r in rules)
    covered = {rule for _, _, rule in ELEMENTS} | {"lifecycle_prefix"}
    assert {r["rule"] for r in rules} == covered - {None}


def test_the_card_counts_what_each_rule_removed(world):
    from rsteller_db import stages

    stages.build(world.wh, only=["card_visibility"], force=True)
    rows = {r["rule"]: (r["elements"], r["patches"]) for r in world.rows("from card_visibility")}
    assert rows["tunnel"] == (2, 2) and rows["lifecycle_value"] == (3, 3)
    assert rows["pipeline"] == (1, 1) and rows["route"] == (1, 1)
    assert sum(n for n, _ in rows.values()) == sum(
        1 for *_, rule in ELEMENTS if rule and rule not in STAGED_APART)
