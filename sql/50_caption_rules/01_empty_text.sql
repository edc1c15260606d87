-- rule: empty_text
-- tasks: 1,2,3
-- kind: format
-- why: the model returned nothing, or only whitespace.
select caption_id
from caption_candidates
where coalesce(trim(text), '') = ''
