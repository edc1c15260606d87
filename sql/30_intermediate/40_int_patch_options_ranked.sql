-- kind: table
-- grain: patch_id, element_id
-- partition: patch_id
-- The elements a patch's caption may be about: areas with area_norm above min_area_norm
-- (task 1) and lines with length_norm above min_length_norm that still carry tags
-- (task 2), each ranked within its patch and task by size; only the top_k are kept.
-- Elements an aerial photograph cannot show (int_elements_hidden: tunnels, buried pipelines,
-- indoor features, ...) are never options.
with options as (
    select patch_id, element_id, 1 as task, area_m2 as size
    from int_patch_areas_described
    where area_norm > setting('min_area_norm')::double
    union all
    select patch_id, element_id, 2 as task, length_m as size
    from int_patch_lines_described
    where length_norm > setting('min_length_norm')::double
      and cardinality(tags) > 0
),
hidden as (
    -- options hidden in the state the patch's image sees (its OSM time, stg_osm__image_snapshots)
    select o.patch_id, o.element_id
    from options as o
    join int_patches_gridded as p using (patch_id)
    left join stg_osm__image_snapshots as s using (image_name)
    join int_elements_hidden as h on h.element_id = o.element_id
    where coalesce(osm_valid_at(h.osm_from, h.osm_until, s.osm_at), false)
),
visible as (
    select o.* from options as o anti join hidden as h using (patch_id, element_id)
),
ranked as (
    select
        *,
        row_number() over (partition by patch_id, task order by size desc, element_id) as size_rank
    from visible
)
select patch_id, element_id, task, size, size_rank
from ranked
where size_rank <= setting('top_k')::integer
