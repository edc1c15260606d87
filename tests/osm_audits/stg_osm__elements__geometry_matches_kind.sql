-- Every element has a geometry of its kind: point -> POINT, line -> LINESTRING,
-- area -> (MULTI)POLYGON, in lon/lat range.
select element_id, kind, ST_GeometryType(geom)::VARCHAR as geometry_type
from stg_osm__elements
where geom is null
    or ST_GeometryType(geom)::VARCHAR <> case kind
        when 'point' then 'POINT'
        when 'line' then 'LINESTRING'
        else ST_GeometryType(geom)::VARCHAR end
    or (kind = 'area' and ST_GeometryType(geom)::VARCHAR not in ('POLYGON', 'MULTIPOLYGON'))
    or kind not in ('point', 'line', 'area')
    or ST_XMin(geom) < -180 or ST_XMax(geom) > 180 or ST_YMin(geom) < -90 or ST_YMax(geom) > 90
