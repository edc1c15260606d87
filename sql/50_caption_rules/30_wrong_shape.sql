-- rule: wrong_shape
-- tasks: 1,3
-- kind: verifier
-- why: the caption gives the area a shape its outline does not have: a word of another shape
--      class than the facts' (rectangular: "rectangular", "rectangle", "boxy"; circular:
--      "circular", "circle", "oval"; irregular: "irregular", "irregularly"). Areas of several
--      parts ("multi-polygonal") are left alone: each part may have its own shape. "square" is
--      not read ("square metres").
with candidates as (
    select caption_id, cr_words(text) as words,
           json_extract_string(cr_facts(payload), '$.geometry.shape') as shape
    from caption_candidates
    where cr_has_facts(payload) and json_extract_string(cr_facts(payload), '$.geometry.kind') = 'area'
),
said as (
    select caption_id, shape,
           case
               when word in ('rectangular', 'rectangle', 'boxy') then 'rectangular'
               when word in ('circular', 'circle', 'oval') then 'circular'
               when word in ('irregular', 'irregularly') then 'irregular'
           end as claimed
    from (select caption_id, shape, unnest(words) as word from candidates)
)
select distinct caption_id
from said
where claimed is not null
  and shape in ('rectangular', 'circular', 'irregular')
  and claimed <> shape
