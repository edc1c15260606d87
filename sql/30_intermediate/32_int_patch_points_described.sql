-- kind: table
-- grain: patch_id, element_id
-- partition: patch_id
-- Point elements (tagged nodes) in a patch: their 3 x 3 cell and name.
with points as (
    select
        patch_id, element_id, tags,
        ST_Centroid(ST_TransScale(geom_native, -x0, -y0, 1.0 / side_m, 1.0 / side_m)) as pt
    from int_patch_elements_joined
    where kind = 'point'
)
select
    p.patch_id, p.element_id, p.tags,
    c.position,
    p.tags['name'] as name
from points as p
join grid_cells as c
  on c.col_idx = least(greatest(floor(ST_X(p.pt) * 3), 0), 2)
 and c.row_idx = least(greatest(floor(ST_Y(p.pt) * 3), 0), 2)
