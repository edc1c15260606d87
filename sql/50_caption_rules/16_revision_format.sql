-- rule: revision_format
-- tasks: 3
-- kind: format
-- why: RSTeller cleaning: a Task 3 revision holds no "*" and no line break.
select caption_id
from caption_candidates
where task = 3
  and regexp_matches(text, '[*\r\n]')
