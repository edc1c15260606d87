-- rule: prompt_copy
-- tasks: 1,2,3
-- why: the caption appears word for word in its prompt (a worked example or the caption to revise copied back).
select caption_id
from caption_candidates
where length(trim(text)) >= 30
  and contains(lower(prompt), lower(trim(text)))
