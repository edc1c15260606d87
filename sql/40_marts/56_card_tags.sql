-- kind: view
-- grain: tag
-- title: OSM tags given to the captioner
-- part: Content
-- limit: top
-- Per key=value given in the payload of a dataset Task 1/2 caption: how many captions had
-- it, and how many mention its value (underscores read as spaces) in their text.
with given as (
    select c.text, unnest(from_json(r.payload -> '$.element.tags',
                                    '[{"key": "VARCHAR", "value": "VARCHAR"}]'),
                          recursive := true)
    from dataset_captions as c
    join caption_requests as r using (request_id)
    where c.task in (1, 2)
),
marked as (
    select key, value, contains(lower(text), lower(replace(value, '_', ' '))) as is_mentioned
    from given
)
select
    key || '=' || value as tag,
    count(*) as captions,
    count(*) filter (is_mentioned) as mentioned,
    round(100.0 * count(*) filter (is_mentioned) / count(*), 1) as mentioned_pct
from marked
group by all
order by captions desc, tag
