-- kind: view
-- grain: element_id, osm_from, problem
-- What the extracts could not give whole, one row per object and problem:
--   missing_nodes        a way refers to nodes the extracts lack (cut at a border); as a
--                        line it keeps the nodes present, as an area it is left out
--   no_geometry          a way with fewer than two located nodes
--   missing_member_ways  a multipolygon refers to ways the extracts lack
--   unclosed_ring        a multipolygon's member ways do not close into rings
--   no_member_ways       a multipolygon without outer/inner ways
--   no_area              the rings closed but enclosed no area
-- has_element: the object still made it into stg_osm__elements or stg_osm__boundaries.
-- osm_from, osm_until: the OSM times of the element state (stg_osm__ways; -infinity ..
-- infinity for a plain extract).
-- Counts: select problem, count(*) from stg_osm__problems group by all
with kept as (
    select element_id, osm_from from stg_osm__elements
    union all
    select element_id, osm_from from stg_osm__boundaries
),
found as (
    select element_id, 'way' as osm_type, osm_id,
        case when geom is null then 'no_geometry' else 'missing_nodes' end as problem,
        format('{} of {} nodes missing', missing_node_count, node_count) as detail,
        cardinality(tags) > 0 as is_tagged, osm_from, osm_until
    from stg_osm__ways
    where missing_node_count > 0 or geom is null
    union all
    select element_id, 'relation', osm_id, problem,
        format('{} member ways: {} missing, {} missing nodes, {} open ring ends',
            member_way_count, missing_way_count, broken_way_count, open_end_count),
        true, osm_from, osm_until
    from stg_osm__multipolygons
    where problem is not null
)
select f.* exclude (osm_from, osm_until),
    (f.element_id, f.osm_from) in (select (element_id, osm_from) from kept) as has_element,
    f.osm_from, f.osm_until
from found as f
