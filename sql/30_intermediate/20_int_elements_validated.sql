-- kind: table
-- grain: element_id, osm_from
-- scope: geom
-- Every OSM element with a geometry the later stages can trust. Invalid polygons
-- (self-intersections, bow ties) are repaired with ST_MakeValid; an element whose repair
-- leaves nothing of its own dimension is kept with status 'skipped' and an empty geom, so
-- the count stays queryable:
--   select geometry_status, kind, count(*) from int_elements_validated group by all
-- One row per element state (osm_from, osm_until: see stg_osm__elements).
with checked as (
    select
        element_id, osm_type, osm_id, kind, tags, geom, osm_from, osm_until,
        geom is not null and not ST_IsEmpty(geom) and ST_IsValid(geom) as is_valid
    from stg_osm__elements
),
repaired as (
    select
        *,
        case
            when is_valid then geom
            when geom is null or ST_IsEmpty(geom) then null
            when kind = 'area' then ST_CollectionExtract(ST_MakeValid(geom), 3)
            when kind = 'line' then ST_CollectionExtract(ST_MakeValid(geom), 2)
            else ST_CollectionExtract(ST_MakeValid(geom), 1)
        end as fixed
    from checked
)
select
    element_id, osm_type, osm_id, kind, tags,
    case when fixed is null or ST_IsEmpty(fixed) then null else fixed end as geom,
    case
        when fixed is null or ST_IsEmpty(fixed) then 'skipped'
        when is_valid then 'valid'
        else 'repaired'
    end as geometry_status,
    osm_from,
    osm_until
from repaired
