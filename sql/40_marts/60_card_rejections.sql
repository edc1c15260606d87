-- kind: view
-- grain: annotator, status, reason
-- title: Rejected and failed attempts
-- part: Generation
-- Caption attempts that are not accepted: reason is the rule that rejected the caption
-- (`rsteller-db caption rules` lists them) or the error of a failed request.
select
    annotator,
    status,
    coalesce(reject_reason, '(none given)') as reason,
    count(*) as captions
from captions
where status <> 'accepted'
group by all
order by captions desc, annotator, status, reason
