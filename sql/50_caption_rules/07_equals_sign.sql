-- rule: equals_sign
-- tasks: 1,2,3
-- why: an "=" means a key=value pair was copied from the facts.
select caption_id
from caption_candidates
where contains(text, '=')
