-- element_id = osm_id * 10 + {1 node, 2 way, 3 relation}, once per element state, and the
-- states of an element follow one another (one state at any OSM time).
select element_id, osm_from, count(*) as copies, null::TIMESTAMP as overlaps_until
from stg_osm__elements
group by element_id, osm_from
having count(*) > 1
    or any_value(element_id) <> any_value(osm_id) * 10
        + case any_value(osm_type) when 'node' then 1 when 'way' then 2 else 3 end
union all
select element_id, osm_from, 1, osm_until
from stg_osm__elements
qualify osm_until > lead(osm_from) over (partition by element_id order by osm_from)
