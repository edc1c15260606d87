-- A patch-element pair appears once.
select patch_id, element_id, count(*) as n
from int_patch_elements_joined
group by patch_id, element_id
having count(*) > 1
