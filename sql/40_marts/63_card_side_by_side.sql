-- kind: view
-- grain: request_id
-- title: Accepted and rejected captions of the same request
-- part: Generation
-- Up to five Task 1/2 requests with a rejected and an accepted caption, verifier rejections
-- first, with the facts the captions were written from: the element's name and tags, and its
-- position and size (areas) or course (lines).
with rejected as (
    select c.request_id, c.text, c.reject_reason, k.kind = 'verifier' as is_verifier
    from captions as c
    left join int_caption_rules_recorded as k on k.rule = c.reject_reason
    where c.status = 'rejected' and c.task in (1, 2)
    qualify row_number() over (
        partition by c.request_id order by is_verifier desc nulls last, c.attempt) = 1
),
accepted as (
    select request_id, text, annotator
    from captions
    where status = 'accepted' and task in (1, 2)
)
select
    q.request_id as request,
    concat_ws('; ',
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
        end) as facts,
    r.text || ' (' || r.reject_reason || ')' as "rejected (rule)",
    a.text || ' (' || a.annotator || ')' as "accepted (annotator)"
from rejected as r
join accepted as a using (request_id)
join caption_requests as q using (request_id)
order by r.is_verifier desc nulls last, q.request_id
limit 5
