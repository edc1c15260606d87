-- kind: view
-- grain: outcome
-- title: The caption rules and the verifier
-- part: Generation
-- The caption attempts the rules judged (accepted or rejected: a failed request reached no
-- rule) by outcome: accepted by every rule, or rejected by a rule of its kind (as the caption
-- runs recorded it; 'retired' when no run recorded the rule).
with judged as (
    select c.status, k.kind
    from captions as c
    left join int_caption_rules_recorded as k on k.rule = c.reject_reason
    where c.status in ('accepted', 'rejected')
)
select
    case when status = 'accepted' then 'accepted by every rule'
         else 'rejected by a ' || coalesce(kind, 'retired') || ' rule' end as outcome,
    count(*) as attempts,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as share_pct
from judged
group by all
order by outcome
