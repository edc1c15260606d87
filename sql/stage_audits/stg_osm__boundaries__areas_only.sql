-- Boundaries are background areas: polygons only, one row per element.
select element_id, ST_GeometryType(geom)::VARCHAR as geometry_type
from stg_osm__boundaries
where geom is null or ST_GeometryType(geom)::VARCHAR not in ('POLYGON', 'MULTIPOLYGON')
    or element_id in (
        select element_id from stg_osm__boundaries group by element_id having count(*) > 1)
