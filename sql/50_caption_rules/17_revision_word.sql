-- rule: revision_word
-- tasks: 3
-- why: RSTeller cleaning: a Task 3 revision never says "revise", "revised" or "revision".
select caption_id
from caption_candidates
where task = 3
  and regexp_matches(text, '(?i)\brevis(e|ed|es|ing|ion|ions)\b')
