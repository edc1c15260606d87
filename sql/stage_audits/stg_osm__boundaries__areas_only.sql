-- Boundaries are background areas: polygons only, one row per element state.
select element_id, ST_GeometryType(geom)::VARCHAR as geometry_type
from stg_osm__boundaries
where geom is null or ST_GeometryType(geom)::VARCHAR not in ('POLYGON', 'MULTIPOLYGON')
    or (element_id, osm_from) in (
        select (element_id, osm_from) from stg_osm__boundaries
        group by element_id, osm_from having count(*) > 1)
