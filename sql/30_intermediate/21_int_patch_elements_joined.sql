-- kind: table
-- grain: patch_id, element_id
-- partition: patch_id
-- Every patch with every OSM element that intersects it, clipped to the patch square in the
-- image's own UTM CRS. The pairing is DuckDB spatial's R-tree join on the EPSG:4326 bounding
-- boxes alone (`&&`, five times cheaper than an exact ST_Intersects there): the exact test is
-- made once, in the native CRS, by the filter before the clip. Each element is projected once
-- per image CRS it is needed in. (x0, y0) is the patch's lower-left corner: the describing
-- stages map a clip to the unit square (origin bottom-left) with ST_TransScale(geom_native,
-- -x0, -y0, 1/side_m, 1/side_m), which is cheaper than storing a second geometry per pair.
-- The patch square is axis-aligned in its CRS, so an element lies inside it exactly when its
-- bounding box does: only elements that cross the edge are clipped, and an area that covers
-- the whole patch clips to the patch square without an overlay.
-- is_clipped: the element extends beyond the view by more than 5 cm (a round trip through
-- EPSG:4326 moves an edge shared with the patch by far less).
-- Each patch sees each element as it was at its image's OSM time (stg_osm__image_snapshots:
-- one state per element; a plain extract's elements have only one).
with timed as (
    select p.patch_id, p.epsg, p.geom, s.osm_at
    from int_patches_gridded as p
    left join stg_osm__image_snapshots as s using (image_name)
),
pairs as (
    select p.patch_id, p.epsg, e.element_id, e.osm_from
    from timed as p
    join int_elements_validated as e
      on p.geom && e.geom
    -- coalesce() keeps the time out of the join condition (a spatial join)
    where coalesce(osm_valid_at(e.osm_from, e.osm_until, p.osm_at), false)
),
projected as (
    select
        x.element_id, x.osm_from, x.epsg, e.kind, e.tags,
        ST_Transform(e.geom, 'EPSG:4326', 'EPSG:' || x.epsg, always_xy := true) as geom_native
    from (select distinct element_id, osm_from, epsg from pairs) as x
    join int_elements_validated as e using (element_id, osm_from)
),
boxed as materialized (
    select
        *,
        ST_XMin(geom_native) as ex0, ST_YMin(geom_native) as ey0,
        ST_XMax(geom_native) as ex1, ST_YMax(geom_native) as ey1
    from projected
),
frames as (
    select
        patch_id, geom_native,
        ST_XMin(geom_native) as x0,
        ST_YMin(geom_native) as y0,
        ST_XMax(geom_native) as x1,
        ST_YMax(geom_native) as y1,
        x1 - x0 as side_m,
        -- the patch shrunk by 1 mm: an element that meets it shares interior with the patch
        ST_MakeEnvelope(x0 + 0.001, y0 + 0.001, x1 - 0.001, y1 - 0.001) as inner_frame
    from int_patches_gridded
),
flagged as (
    select
        pr.patch_id, pr.element_id, j.kind, j.tags, f.side_m, f.x0, f.y0,
        f.geom_native as frame, f.inner_frame, j.geom_native as element,
        not (j.ex0 >= f.x0 and j.ex1 <= f.x1 and j.ey0 >= f.y0 and j.ey1 <= f.y1) as crosses_edge,
        not (j.ex0 >= f.x0 - 0.05 and j.ex1 <= f.x1 + 0.05
             and j.ey0 >= f.y0 - 0.05 and j.ey1 <= f.y1 + 0.05) as is_clipped,
        j.ex0 <= f.x0 and j.ex1 >= f.x1 and j.ey0 <= f.y0 and j.ey1 >= f.y1 as covers_box
    from pairs as pr
    join boxed as j using (element_id, osm_from, epsg)
    join frames as f using (patch_id)
),
clipped as (
    select
        patch_id, element_id, kind, tags, is_clipped, side_m, x0, y0,
        case
            when not crosses_edge then element
            -- an area covers the patch only if its bounding box does (cheap test first)
            when kind = 'area' and covers_box and ST_Covers(element, frame) then frame
            when kind = 'area' then ST_CollectionExtract(ST_Intersection(element, frame), 3)
            else ST_CollectionExtract(ST_Intersection(element, frame), 2)
        end as geom_native
    from flagged
    -- the exact test for pairs whose boxes overlap. A point outside the patch's box is outside
    -- the patch. Another element is kept when it meets the patch shrunk by 1 mm: then their
    -- interiors overlap, which ST_Touches would test at four times the cost; what it drops
    -- misses the patch, touches its edge, or lies within 1 mm of it (under a pixel, and never
    -- described)
    where not crosses_edge or (kind <> 'point' and ST_Intersects(element, inner_frame))
)
select patch_id, element_id, kind, tags, is_clipped, side_m, x0, y0, geom_native
from clipped
