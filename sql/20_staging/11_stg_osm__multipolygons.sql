-- kind: table
-- grain: element_id, osm_from (one state of a relation of type multipolygon or boundary)
-- Area relations assembled from their member ways (roles outer, inner or empty). Rings may
-- be split over several ways and a relation may hold several outers; ST_BuildArea
-- polygonizes the linework and nests the rings even-odd, as OSM's multipolygon rules do.
-- A relation gets no geometry (geom null, reason in problem) when a member way is missing
-- from the extract, when a member way misses nodes, or when its rings cannot be closed:
-- every node where member ways end must be shared by an even number of way ends.
-- With a full-history extract, one row per state: a relation version with its member ways as
-- they stood (stg_osm__ways), valid for OSM times osm_from <= t < osm_until, cut where a state
-- of a member way begins or ends. A plain extract's relations have one state, -infinity ..
-- infinity.
with relations as (
    select id, tags, refs, ref_types, ref_roles,
        '-infinity'::TIMESTAMP as osm_from, 'infinity'::TIMESTAMP as osm_until
    from raw.osm_elements
    where kind = 'relation'
        and (select osm_input from stg_osm__inputs) = 'one extract'
        and tags['type'] in ('multipolygon', 'boundary')
    union all
    select id, arg_max(tags, source_id), arg_max(refs, source_id),
        arg_max(ref_types, source_id), arg_max(ref_roles, source_id),
        '-infinity'::TIMESTAMP, 'infinity'::TIMESTAMP
    from raw.osm_elements
    where kind = 'relation'
        and (select osm_input from stg_osm__inputs) = 'several extracts'
        and tags['type'] in ('multipolygon', 'boundary')
    group by id
    union all
    select id, tags, refs, ref_types, ref_roles, osm_from, osm_until
    from stg_osm__versions
    where kind = 'relation' and tags['type'] in ('multipolygon', 'boundary')
),
members as (
    select * from (
        select id as osm_id, osm_from as rel_from, osm_until as rel_until,
            unnest(refs) as way_id, unnest(ref_types) as member_type, unnest(ref_roles) as role
        from relations
    )
    where member_type = 'way' and role in ('outer', 'inner', '')
),
cuts as (
    -- where a state of a member way begins or ends while the relation version is current
    select m.osm_id, m.rel_from,
        list_sort(list_distinct(list_filter(list_concat(list(w.osm_from), list(w.osm_until)),
                                            t -> t > m.rel_from and t < m.rel_until))) as cuts
    from members as m
    join stg_osm__ways as w
      on w.osm_id = m.way_id and w.osm_from < m.rel_until and m.rel_from < w.osm_until
    group by m.osm_id, m.rel_from, m.rel_until
),
states as (
    select r.id as osm_id, r.osm_from as rel_from, r.tags,
        unnest(list_concat([r.osm_from], coalesce(c.cuts, []))) as state_from,
        unnest(list_concat(coalesce(c.cuts, []), [r.osm_until])) as state_until
    from relations as r
    left join cuts as c on c.osm_id = r.id and c.rel_from = r.osm_from
),
member_ways as (
    select s.osm_id, s.state_from, m.way_id, w.osm_id is not null as is_present,
        w.missing_node_count, w.first_node_id, w.last_node_id, w.geom
    from states as s
    join members as m on m.osm_id = s.osm_id and m.rel_from = s.rel_from
    left join stg_osm__ways as w
      on w.osm_id = m.way_id and w.osm_from <= s.state_from and s.state_from < w.osm_until
),
way_ends as (
    select osm_id, state_from, node_id, count(*) as way_ends
    from (
        select osm_id, state_from, first_node_id as node_id from member_ways where is_present
        union all
        select osm_id, state_from, last_node_id from member_ways where is_present
    )
    group by all
),
open_ends as (
    select osm_id, state_from, count(*) filter (where way_ends % 2 = 1) as open_end_count
    from way_ends
    group by osm_id, state_from
),
assembled as (
    select
        osm_id,
        state_from,
        count(*) as member_way_count,
        count(*) filter (where not is_present) as missing_way_count,
        count(*) filter (where missing_node_count > 0 or (is_present and geom is null))
            as broken_way_count,
        list(geom) filter (where geom is not null) as lines
    from member_ways
    group by osm_id, state_from
),
checked as (
    select
        s.osm_id * 10 + 3 as element_id,
        s.osm_id,
        s.tags,
        coalesce(a.member_way_count, 0) as member_way_count,
        coalesce(a.missing_way_count, 0) as missing_way_count,
        coalesce(a.broken_way_count, 0) as broken_way_count,
        coalesce(o.open_end_count, 0) as open_end_count,
        a.lines,
        case
            when coalesce(a.member_way_count, 0) = 0 then 'no_member_ways'
            when a.missing_way_count > 0 then 'missing_member_ways'
            when a.broken_way_count > 0 then 'missing_nodes'
            when o.open_end_count > 0 then 'unclosed_ring'
        end as problem,
        s.state_from as osm_from,
        s.state_until as osm_until
    from states as s
    left join assembled as a on a.osm_id = s.osm_id and a.state_from = s.state_from
    left join open_ends as o on o.osm_id = s.osm_id and o.state_from = s.state_from
),
built as (
    select * exclude (lines),
        case when problem is null then ST_BuildArea(ST_Collect(lines)) end as area
    from checked
)
select
    * exclude (area, problem, osm_from, osm_until),
    case when problem is null and (area is null or ST_IsEmpty(area)) then 'no_area'
        else problem end as problem,
    case when not ST_IsEmpty(area) then area end as geom,
    osm_from,
    osm_until
from built
