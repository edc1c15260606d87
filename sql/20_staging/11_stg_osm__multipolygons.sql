-- kind: table
-- grain: element_id (one relation of type multipolygon or boundary)
-- Area relations assembled from their member ways (roles outer, inner or empty). Rings may
-- be split over several ways and a relation may hold several outers; ST_BuildArea
-- polygonizes the linework and nests the rings even-odd, as OSM's multipolygon rules do.
-- A relation gets no geometry (geom null, reason in problem) when a member way is missing
-- from the extract, when a member way misses nodes, or when its rings cannot be closed:
-- every node where member ways end must be shared by an even number of way ends.
with osm_files as (
    -- 1 when the objects come from one extract (no copies to choose between), else 2
    select if(min(source_id) = max(source_id), 1, 2) as n from raw.osm_elements
),
relations as (
    select id, tags, refs, ref_types, ref_roles
    from raw.osm_elements
    where kind = 'relation' and (select n from osm_files) <= 1
        and tags['type'] in ('multipolygon', 'boundary')
    union all
    select id, arg_max(tags, source_id), arg_max(refs, source_id),
        arg_max(ref_types, source_id), arg_max(ref_roles, source_id)
    from raw.osm_elements
    where kind = 'relation' and (select n from osm_files) > 1
        and tags['type'] in ('multipolygon', 'boundary')
    group by id
),
members as (
    select id as osm_id, unnest(refs) as way_id, unnest(ref_types) as member_type,
        unnest(ref_roles) as role
    from relations
),
member_ways as (
    select m.osm_id, m.way_id, w.osm_id is not null as is_present, w.missing_node_count,
        w.first_node_id, w.last_node_id, w.geom
    from members as m
    left join stg_osm__ways as w on w.osm_id = m.way_id
    where m.member_type = 'way' and m.role in ('outer', 'inner', '')
),
way_ends as (
    select osm_id, node_id, count(*) as way_ends
    from (
        select osm_id, first_node_id as node_id from member_ways where is_present
        union all
        select osm_id, last_node_id from member_ways where is_present
    )
    group by all
),
open_ends as (
    select osm_id, count(*) filter (where way_ends % 2 = 1) as open_end_count
    from way_ends
    group by osm_id
),
assembled as (
    select
        osm_id,
        count(*) as member_way_count,
        count(*) filter (where not is_present) as missing_way_count,
        count(*) filter (where missing_node_count > 0 or (is_present and geom is null))
            as broken_way_count,
        list(geom) filter (where geom is not null) as lines
    from member_ways
    group by osm_id
),
checked as (
    select
        r.id * 10 + 3 as element_id,
        r.id as osm_id,
        r.tags,
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
        end as problem
    from relations as r
    left join assembled as a on a.osm_id = r.id
    left join open_ends as o on o.osm_id = r.id
),
built as (
    select * exclude (lines),
        case when problem is null then ST_BuildArea(ST_Collect(lines)) end as area
    from checked
)
select
    * exclude (area, problem),
    case when problem is null and (area is null or ST_IsEmpty(area)) then 'no_area'
        else problem end as problem,
    case when not ST_IsEmpty(area) then area end as geom
from built
