-- rule: meta_talk
-- tasks: 1,2,3
-- why: the answer talks about the task instead of the image: "caption", "here is", "you are an",
--      "example 1", "the facts", "the prompt" (small models often answer about the prompt).
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)(\bcaptions?\b|\bhere(''s| is)\b|\byou are an?\b|\bexample\s+\d|\bthe facts\b|\bthe prompt\b)')
