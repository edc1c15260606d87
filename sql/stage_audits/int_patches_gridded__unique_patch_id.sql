-- two windows with the same patch_id (an md5 prefix collision, or a duplicated image)
select patch_id, count(*) as n
from int_patches_gridded
group by patch_id
having count(*) > 1
