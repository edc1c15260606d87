-- rule: unfinished
-- tasks: 1,2,3
-- kind: format
-- why: the caption stops mid-sentence (the model ran out of tokens): it must end with ".", "!",
--      "?" or a closing quote or bracket after one.
select caption_id
from caption_candidates
where not regexp_matches(rtrim(text), '[.!?]["'')\]]?$')
