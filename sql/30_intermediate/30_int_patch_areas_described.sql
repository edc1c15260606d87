-- kind: table
-- grain: patch_id, element_id
-- partition: patch_id
-- Descriptors of each area element as seen in a patch (rsteller-workflow "Geometry, per
-- patch"), measured in the image's UTM:
--   positions   3 x 3 cell of each part's centroid, largest part first (grid_cells seed)
--   shape       multi-polygonal (more than one part), rectangular (fills at least 90 % of its
--               minimum rotated rectangle), circular (perimeter^2 / 4 pi within 10 % of the
--               area), else irregular
--   area_norm   area / patch area, 3 decimals
-- A visible part smaller than one output pixel (gsd_m squared) is not described: such
-- slivers are corners of neighbouring buildings poking a few centimetres over the edge.
-- The simplified outline is prompt text only: caption_requests draws it for the chosen
-- element, not for every area of every patch. A shape that fills 90 % of its own bounding
-- box is rectangular without computing the minimum rotated rectangle (which is never larger).
with areas as (
    select
        patch_id, element_id, tags, is_clipped, side_m, x0, y0, geom_native,
        ST_NumGeometries(geom_native) as n_parts
    from int_patch_elements_joined
    where kind = 'area'
),
-- one part (nearly every area): its centroid's cell, no aggregation
single as (
    select a.patch_id, a.element_id, [c.position] as positions
    from (
        select
            patch_id, element_id,
            ST_Centroid(ST_TransScale(geom_native, -x0, -y0, 1.0 / side_m, 1.0 / side_m)) as pt
        from areas
        where n_parts = 1
    ) as a
    join grid_cells as c
      on c.col_idx = least(greatest(floor(ST_X(a.pt) * 3), 0), 2)
     and c.row_idx = least(greatest(floor(ST_Y(a.pt) * 3), 0), 2)
),
parts as (
    select
        patch_id, element_id,
        unnest(ST_Dump(ST_TransScale(geom_native, -x0, -y0, 1.0 / side_m, 1.0 / side_m)),
               recursive := true)
    from areas
    where n_parts > 1
),
part_cells as (
    select p.patch_id, p.element_id, c.position, ST_Area(p.geom) as part_area
    from parts as p
    join grid_cells as c
      on c.col_idx = least(greatest(floor(ST_X(ST_Centroid(p.geom)) * 3), 0), 2)
     and c.row_idx = least(greatest(floor(ST_Y(ST_Centroid(p.geom)) * 3), 0), 2)
),
multi as (
    -- distinct cells, in the order of their largest part
    select patch_id, element_id, list(position order by part_area desc, position) as by_size
    from part_cells
    group by patch_id, element_id
),
positions as (
    select patch_id, element_id, positions from single
    union all
    select patch_id, element_id, list_filter(by_size, (x, i) -> list_position(by_size, x) = i)
    from multi
),
measured as (
    select
        a.patch_id, a.element_id, a.tags, a.is_clipped, a.side_m, a.geom_native, a.n_parts,
        s.positions,
        ST_Area(a.geom_native) as area_m2,
        ST_Perimeter(a.geom_native) as perimeter_m,
        (ST_XMax(a.geom_native) - ST_XMin(a.geom_native))
            * (ST_YMax(a.geom_native) - ST_YMin(a.geom_native)) as bbox_area_m2
    from areas as a
    join positions as s using (patch_id, element_id)
)
select
    patch_id, element_id, tags, is_clipped, positions, n_parts,
    case
        when n_parts > 1 then 'multi-polygonal'
        when area_m2 >= 0.9 * bbox_area_m2 then 'rectangular'
        when area_m2 >= 0.9 * ST_Area(ST_MinimumRotatedRectangle(geom_native)) then 'rectangular'
        when abs(perimeter_m * perimeter_m / (4 * pi()) - area_m2) <= 0.1 * area_m2 then 'circular'
        else 'irregular'
    end as shape,
    round(area_m2, 1) as area_m2,
    round(area_m2 / (side_m * side_m), 3) as area_norm
from measured
where area_m2 >= setting('gsd_m')::double ^ 2
