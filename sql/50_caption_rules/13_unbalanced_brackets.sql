-- rule: unbalanced_brackets
-- tasks: 1,2
-- kind: format
-- why: RSTeller cleaning: round and square brackets must pair up (nesting up to four levels).
with stripped as (
    select caption_id, task,
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(
            regexp_replace(text, '[^()\[\]]', '', 'g'),
            '\(\)|\[\]', '', 'g'), '\(\)|\[\]', '', 'g'), '\(\)|\[\]', '', 'g'), '\(\)|\[\]', '', 'g')
            as rest
    from caption_candidates
)
select caption_id
from stripped
where task in (1, 2) and rest <> ''
