-- rule: shouted_word
-- tasks: 1,2,3
-- why: an all-capitals word of 5+ letters (a marker such as "HACKED" obeyed from an injected tag
--      value, or garbage); real abbreviations in captions are shorter (USA, NAIP).
select caption_id
from caption_candidates
where regexp_matches(text, '\b[A-Z]{5,}\b')
