-- kind: table
-- grain: element_id, osm_from
-- scope: geom
-- Administrative boundaries and other `boundary`/`admin_level` areas: background context
-- for a patch ("in Pike County"), never captioned themselves. Closed ways and assembled
-- boundary or multipolygon relations; open boundary ways (border segments) are left out.
-- One row per state, valid for OSM times osm_from <= t < osm_until (stg_osm__ways).
select
    element_id,
    'way' as osm_type,
    osm_id,
    tags['name'] as name,
    try_cast(tags['admin_level'] as INTEGER) as admin_level,
    tags,
    ST_MakePolygon(geom) as geom,
    osm_from,
    osm_until
from stg_osm__ways
where is_closed and missing_node_count = 0 and geom is not null
    and (map_contains(tags, 'boundary') or map_contains(tags, 'admin_level'))
union all
select
    element_id,
    'relation' as osm_type,
    osm_id,
    tags['name'] as name,
    try_cast(tags['admin_level'] as INTEGER) as admin_level,
    tags,
    geom,
    osm_from,
    osm_until
from stg_osm__multipolygons
where geom is not null
    and (map_contains(tags, 'boundary') or map_contains(tags, 'admin_level'))
