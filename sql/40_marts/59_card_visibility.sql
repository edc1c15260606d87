-- kind: view
-- grain: rule
-- title: Not captioned: what a photograph cannot show
-- part: Content
-- Per element-scope rule of the visibility_rules seed: the elements int_elements_hidden
-- holds for it (never the subject of a caption) and the patches they lie in.
select
    r.rule,
    count(distinct h.element_id) as elements,
    count(distinct j.patch_id) as patches,
    r.why
from visibility_rules as r
left join int_elements_hidden as h on h.rule = r.rule
left join int_patch_elements_joined as j on j.element_id = h.element_id
where r.scope = 'element'
group by all
order by elements desc, r.rule
