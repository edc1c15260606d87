-- kind: view
-- grain: rule, annotator
-- title: Rejections per rule
-- part: Generation
-- Rejected attempts per rule and annotator, with the rule's kind; share_pct is the share of
-- all judged (accepted or rejected) attempts.
select
    coalesce(k.kind, 'retired') as kind,
    c.reject_reason as rule,
    c.annotator,
    count(*) as rejected,
    round(100.0 * count(*)
          / (select count(*) from captions where status in ('accepted', 'rejected')), 1)
        as share_pct
from captions as c
left join int_caption_rules_recorded as k on k.rule = c.reject_reason
where c.status = 'rejected'
group by all
order by kind desc, rejected desc, rule, c.annotator
