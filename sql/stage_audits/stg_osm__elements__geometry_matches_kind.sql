-- Every element has a geometry of its kind: point -> POINT, line -> LINESTRING,
-- area -> POLYGON or MULTIPOLYGON.
select element_id, kind, geometry_type
from (
    select element_id, kind, geom, ST_GeometryType(geom)::VARCHAR as geometry_type
    from stg_osm__elements
)
where geom is null
    or not list_contains(case kind
        when 'point' then ['POINT']
        when 'line' then ['LINESTRING']
        when 'area' then ['POLYGON', 'MULTIPOLYGON']
        else [] end, geometry_type)
