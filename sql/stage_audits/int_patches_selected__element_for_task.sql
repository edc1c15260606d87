-- A patch given a task has an element of that task drawn among its ranked options.
select s.patch_id, s.task, s.element_id
from int_patches_selected as s
left join int_patch_options_ranked as o
  on o.patch_id = s.patch_id and o.element_id = s.element_id and o.task = s.task
where (s.task is null) <> (s.element_id is null)
   or (s.element_id is not null and o.element_id is null)
