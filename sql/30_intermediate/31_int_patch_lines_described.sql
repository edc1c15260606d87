-- kind: table
-- grain: patch_id, element_id
-- partition: patch_id
-- Descriptors of each line element as seen in a patch, measured in the image's UTM. A line
-- the patch edge cuts into several pieces is described by its longest piece (ends,
-- sinuosity, orientation); length_m counts every piece.
--   start/end_position  3 x 3 cell of each end; start/end_edge names the patch edge (or
--                       corner) the end lies on, null inside the view
--   sinuosity           length / end-point distance: straight (< 1.0005), curved (< 1.5),
--                       twisted (>= 1.5), closed (the ends meet)
--   orientation         the end-to-end direction folded to +-90 degrees: east-west (< 30),
--                       southwest-northeast (30..60), northwest-southeast (-60..-30), else
--                       south-north; none when twisted or closed
--   length_norm         length / patch side, 3 decimals
-- A visible piece shorter than one output pixel (gsd_m) is not described.
with lines as (
    select
        patch_id, element_id, tags, is_clipped, side_m, geom_native,
        ST_TransScale(geom_native, -x0, -y0, 1.0 / side_m, 1.0 / side_m) as geom_unit
    from int_patch_elements_joined
    where kind = 'line'
),
pieces as (
    select patch_id, element_id, unnest(ST_Dump(ST_LineMerge(geom_unit)), recursive := true)
    from lines
),
longest as (
    select
        patch_id, element_id,
        count(*) as n_parts,
        arg_max(geom, ST_Length(geom)) as piece
    from pieces
    where ST_Length(geom) > 0
    group by patch_id, element_id
),
ends as (
    select
        l.patch_id, l.element_id, l.tags, l.is_clipped, l.side_m, g.n_parts,
        ST_Length(l.geom_native) as length_m,
        ST_Length(g.piece) as piece_len,
        ST_X(ST_StartPoint(g.piece)) as x1, ST_Y(ST_StartPoint(g.piece)) as y1,
        ST_X(ST_EndPoint(g.piece)) as x2, ST_Y(ST_EndPoint(g.piece)) as y2
    from lines as l
    join longest as g using (patch_id, element_id)
),
shaped as (
    select
        *,
        sqrt((x2 - x1) ^ 2 + (y2 - y1) ^ 2) as chord,
        degrees(atan2(y2 - y1, x2 - x1)) as heading
    from ends
),
classed as (
    select
        *,
        case
            when chord < 1e-9 then 'closed'
            when piece_len / chord < 1.0005 then 'straight'
            when piece_len / chord < 1.5 then 'curved'
            else 'twisted'
        end as sinuosity,
        case
            when heading > 90 then heading - 180
            when heading <= -90 then heading + 180
            else heading
        end as folded
    from shaped
)
select
    patch_id, element_id, tags, is_clipped, n_parts,
    cs.position as start_position,
    nullif(concat_ws('-',
        case when y1 >= 1 - 1e-6 then 'top' when y1 <= 1e-6 then 'bottom' end,
        case when x1 <= 1e-6 then 'left' when x1 >= 1 - 1e-6 then 'right' end), '') as start_edge,
    ce.position as end_position,
    nullif(concat_ws('-',
        case when y2 >= 1 - 1e-6 then 'top' when y2 <= 1e-6 then 'bottom' end,
        case when x2 <= 1e-6 then 'left' when x2 >= 1 - 1e-6 then 'right' end), '') as end_edge,
    round(case when chord < 1e-9 then null else piece_len / chord end, 4) as sinuosity_ratio,
    sinuosity,
    case
        when sinuosity in ('twisted', 'closed') then 'none'
        when abs(folded) < 30 then 'east-west'
        when folded >= 30 and folded <= 60 then 'southwest-northeast'
        when folded >= -60 and folded <= -30 then 'northwest-southeast'
        else 'south-north'
    end as orientation,
    round(length_m, 1) as length_m,
    round(length_m / side_m, 3) as length_norm
from classed
join grid_cells as cs
  on cs.col_idx = least(greatest(floor(x1 * 3), 0), 2)
 and cs.row_idx = least(greatest(floor(y1 * 3), 0), 2)
join grid_cells as ce
  on ce.col_idx = least(greatest(floor(x2 * 3), 0), 2)
 and ce.row_idx = least(greatest(floor(y2 * 3), 0), 2)
where length_m >= setting('gsd_m')::double
