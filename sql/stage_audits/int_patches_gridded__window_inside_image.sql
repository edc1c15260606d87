-- windows that reach outside their image's pixel grid
select p.patch_id, p.image_name, p.px_x, p.px_y, p.px_size, i.width_px, i.height_px
from int_patches_gridded as p
join stg_naip__images as i using (image_name)
where p.px_x < 0 or p.px_y < 0
   or p.px_x + p.px_size > i.width_px
   or p.px_y + p.px_size > i.height_px
