-- rule: word_count_task12
-- tasks: 1,2
-- kind: format
-- why: RSTeller cleaning: a Task 1/2 caption has 10 to 120 words.
select caption_id
from caption_candidates
where task in (1, 2)
  and len(regexp_extract_all(text, '\S+')) not between 10 and 120
