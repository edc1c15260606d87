-- rule: charset
-- tasks: 1,2
-- kind: format
-- why: RSTeller cleaning: only letters, digits, whitespace and common punctuation.
select caption_id
from caption_candidates
where task in (1, 2)
  and regexp_matches(text, '[^\p{L}\p{N}\s.,;:!?''"()\[\]/&%°–—-]')
