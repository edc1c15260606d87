"""The card's sections on the caption rules: rejections per rule and kind, the verifier's
figures, and accepted and rejected captions of the same request side by side with its facts.

A rule's kind (format, text, verifier) is read from its file in ``sql/50_caption_rules/``;
``failed`` attempts (transport errors) are counted apart, since no rule judged them.
"""

from __future__ import annotations

from ..caption.rules import load_rules
from ..warehouse import Warehouse
from .card import Section

JUDGED = "status in ('accepted', 'rejected')"
FACTS = """concat_ws('; ',
    nullif(q.payload ->> '$.element.name', ''),
    array_to_string(list_transform(
        from_json(q.payload -> '$.element.tags', '[{"key": "VARCHAR", "value": "VARCHAR"}]'),
        t -> t.key || '=' || t.value), ', '),
    case q.payload ->> '$.geometry.kind'
        when 'line' then concat(q.payload ->> '$.geometry.start_words', ' to ',
                                q.payload ->> '$.geometry.end_words', ', ',
                                q.payload ->> '$.geometry.orientation_words')
        else concat(array_to_string(from_json(q.payload -> '$.geometry.position_words',
                                               '["VARCHAR"]'), ' and '),
                    ', ', q.payload ->> '$.geometry.size_words')
    end)"""


def _kinds() -> str:
    """The rules' kinds as a VALUES relation (rule names are [a-z0-9_], from their files)."""
    rows = ", ".join(f"('{r.name}', '{r.kind}')" for r in load_rules())
    return f"(values {rows}) as k(rule, kind)"


def rule_sections(wh: Warehouse, missing: str | None) -> dict[str, Section]:
    """``verifier``: judged attempts by outcome and kind of rule; ``rules``: rejections per rule;
    ``side_by_side``: up to five requests with a rejected and an accepted Task 1/2 caption."""
    titles = {
        "verifier": ("What the rules decided", ["outcome", "attempts", "share_pct"]),
        "rules": ("Rejections per rule", ["kind", "rule", "annotator", "rejected", "share_pct"]),
        "side_by_side": (
            "Accepted and rejected captions of the same request",
            ["request", "facts", "rejected (rule)", "accepted (annotator)"],
        ),
    }
    if missing:
        return {k: Section(t, c, missing=missing) for k, (t, c) in titles.items()}
    kinds = _kinds()
    out = {}
    out["verifier"] = Section(*titles["verifier"], wh.con.execute(f"""
        with judged as (
            select c.status, k.kind from captions c
            left join {kinds} on k.rule = c.reject_reason
            where c.{JUDGED})
        select case when status = 'accepted' then 'accepted by every rule'
                    else 'rejected by a ' || coalesce(kind, 'retired') || ' rule' end as outcome,
               count(*), round(100.0 * count(*) / sum(count(*)) over (), 1)
        from judged group by all order by outcome""").fetchall())
    out["rules"] = Section(*titles["rules"], wh.con.execute(f"""
        select coalesce(k.kind, 'retired'), c.reject_reason, c.annotator, count(*),
               round(100.0 * count(*) / (select count(*) from captions where {JUDGED}), 1)
        from captions c left join {kinds} on k.rule = c.reject_reason
        where c.status = 'rejected'
        group by all order by 1 desc, 4 desc, 2, 3""").fetchall())
    verifier = "[" + ", ".join(f"'{r.name}'" for r in load_rules() if r.kind == "verifier") + "]"
    if not wh.relation_exists("caption_requests"):
        out["side_by_side"] = Section(*titles["side_by_side"],
                                      missing="`caption_requests` is not built yet: run "
                                              "`rsteller-db build`")
        return out
    out["side_by_side"] = Section(*titles["side_by_side"], wh.con.execute(f"""
        with rejected as (
            select request_id, text, reject_reason from captions
            where status = 'rejected' and task in (1, 2)
            qualify row_number() over (
                partition by request_id
                order by list_contains({verifier}, reject_reason) desc, attempt) = 1
        ), accepted as (
            select request_id, text, annotator from captions
            where status = 'accepted' and task in (1, 2)
        )
        select q.request_id, {FACTS},
               r.text || ' (' || r.reject_reason || ')', a.text || ' (' || a.annotator || ')'
        from rejected r join accepted a using (request_id)
        join caption_requests q using (request_id)
        order by list_contains({verifier}, r.reject_reason) desc, q.request_id
        limit 5""").fetchall())
    return out
