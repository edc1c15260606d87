-- rule: tag_word
-- tasks: 1,2,3
-- why: the caption says "tag", "tags" or "tagged" (it must state facts plainly, not how the map labels them).
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)\b(tag|tags|tagged|tagging)\b')
