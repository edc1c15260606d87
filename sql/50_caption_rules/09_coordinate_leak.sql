-- rule: coordinate_leak
-- tasks: 1,2,3
-- why: the caption quotes a coordinate from the payload (any number written with 3 or more decimals).
with numbers as (
    select caption_id, unnest(regexp_extract_all(payload, '-?\d+\.\d{3,}')) as number
    from caption_candidates
)
select distinct n.caption_id
from numbers n
join caption_candidates c using (caption_id)
where contains(c.text, ltrim(n.number, '-'))
