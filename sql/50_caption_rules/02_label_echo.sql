-- rule: label_echo
-- tasks: 1,2,3
-- why: the answer repeats a prompt label such as "Caption:" or "Revised:" instead of just the caption.
select caption_id
from caption_candidates
where regexp_matches(text, '(?i)\b(caption|captions|revised|rewrite|rewritten|original|description|answer|output|response|facts)\s*:')
