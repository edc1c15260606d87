-- rule: tag_value_echo
-- tasks: 1,2
-- why: the caption repeats a long text value of the payload word for word (40+ characters: a
--      description or a pasted instruction, not a name). The geometry block is ours: its
--      phrases ("about a third of the way across the view") are there to be used.
select distinct c.caption_id
from caption_candidates c, json_tree(c.payload) j
where c.task in (1, 2)
  and j.type = 'VARCHAR'
  and not starts_with(j.fullkey, '$.geometry')
  and length(j.value::VARCHAR) >= 42
  and contains(lower(c.text), lower(trim(j.value::VARCHAR, '"')))
