-- patches of two images that cover the same ground (more than a sliver). coalesce() keeps
-- the name comparison out of the join condition, so DuckDB plans a spatial join.
select a.patch_id, a.image_name, b.patch_id as other_patch_id, b.image_name as other_image_name
from int_patches_gridded as a
join int_patches_gridded as b on ST_Intersects(a.geom, b.geom)
where coalesce(a.image_name < b.image_name, false)
  and ST_Area(ST_Intersection(a.geom, b.geom)) > 1e-6 * ST_Area(a.geom)
