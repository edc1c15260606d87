-- element_id = osm_id * 10 + {1 node, 2 way, 3 relation}, once per element.
select element_id, count(*) as copies
from stg_osm__elements
group by element_id
having count(*) > 1
    or any_value(element_id) <> any_value(osm_id) * 10
        + case any_value(osm_type) when 'node' then 1 when 'way' then 2 else 3 end
