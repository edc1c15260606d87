-- rule: meta_talk
-- tasks: 1,2,3
-- why: the answer talks about the task instead of the image: "caption", "here is", "you are an",
--      "example 1", "the facts", "map facts", "the map", "the prompt" (small models often answer
--      about the prompt; a caption describes the image, never the map data behind it).
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)(\bcaptions?\b|\bhere(''s| is)\b|\byou are an?\b|\bexample\s+\d|\bthe facts\b|\bmap facts?\b|\bthe map\b|\bthe prompt\b)')
