-- rule: word_count_task3
-- tasks: 3
-- kind: format
-- why: RSTeller cleaning: a Task 3 revision has 2 to 100 words.
select caption_id
from caption_candidates
where task = 3
  and len(regexp_extract_all(text, '\S+')) not between 2 and 100
