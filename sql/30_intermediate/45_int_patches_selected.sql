-- kind: table
-- grain: patch_id
-- partition: patch_id
-- One row per grid patch: its element counts, whether it is a candidate, and for a
-- candidate the task and element drawn; otherwise skip_reason says why it gets no request:
--   select skip_reason, count(*) from int_patches_selected group by all
-- Elements counted toward min_elements are the described areas and lines (points are
-- context only, as in the original; pieces smaller than a pixel are not described). Every draw is a pure function of (seed, patch_id, purpose): the leading
-- digits of an md5, so the same inputs and seed give the same choices, with no random().
with described as (
    select patch_id, 'area' as kind from int_patch_areas_described
    union all
    select patch_id, 'line' from int_patch_lines_described
    union all
    select patch_id, 'point' from int_patch_points_described
),
counts as (
    select
        patch_id,
        count(*) filter (where kind in ('area', 'line')) as n_elements,
        count(*) filter (where kind = 'area') as n_areas,
        count(*) filter (where kind = 'line') as n_lines,
        count(*) filter (where kind = 'point') as n_points
    from described
    group by patch_id
),
option_counts as (
    select
        patch_id,
        count(*) filter (where task = 1) as n_area_options,
        count(*) filter (where task = 2) as n_line_options
    from int_patch_options_ranked
    group by patch_id
),
drawn as (
    select
        p.patch_id,
        coalesce(c.n_elements, 0) as n_elements,
        coalesce(c.n_areas, 0) as n_areas,
        coalesce(c.n_lines, 0) as n_lines,
        coalesce(c.n_points, 0) as n_points,
        coalesce(o.n_area_options, 0) as n_area_options,
        coalesce(o.n_line_options, 0) as n_line_options,
        (md5_number(concat_ws(':', setting('seed'), p.patch_id, 'task')) % 1000000)::double
            / 1e6 as u_task,
        (md5_number(concat_ws(':', setting('seed'), p.patch_id, 'element')) % 1000000)::double
            / 1e6 as u_element
    from int_patches_gridded as p
    left join counts as c using (patch_id)
    left join option_counts as o using (patch_id)
),
tasked as (
    select
        *,
        n_elements >= setting('min_elements')::integer as is_candidate,
        case
            when n_elements < setting('min_elements')::integer then null
            when n_area_options > 0 and n_line_options > 0 then
                case when u_task < setting('area_task_weight')::double then 1 else 2 end
            when n_area_options > 0 then 1
            when n_line_options > 0 then 2
        end as task
    from drawn
),
picked as (
    select
        t.*,
        floor(u_element * case t.task when 1 then n_area_options else n_line_options end)::integer
            + 1 as pick_rank
    from tasked as t
)
select
    s.patch_id, s.n_elements, s.n_areas, s.n_lines, s.n_points,
    s.n_area_options, s.n_line_options, s.is_candidate,
    s.task, o.element_id,
    case
        when s.n_elements = 0 then 'no area or line element in the view'
        when not s.is_candidate then 'fewer elements than min_elements'
        when s.task is null then 'no area above min_area_norm and no tagged line above min_length_norm'
    end as skip_reason
from picked as s
left join int_patch_options_ranked as o
  on o.patch_id = s.patch_id and o.task = s.task and o.size_rank = s.pick_rank
