-- kind: view
-- grain: rule
-- The caption rules as the caption runs recorded them (_meta.caption_runs.rules, the rule
-- book that judged each run: rule name -> kind, format | text | verifier), each rule with the
-- kind its latest run recorded. A view: runs are written by `rsteller-db caption`.
with recorded as (
    select started_at, rules, unnest(json_keys(rules)) as rule
    from _meta.caption_runs
    where rules is not null
)
select rule, arg_max(rules ->> rule, started_at) as kind
from recorded
group by rule
