-- Elements left without tags after the drop policy are removed, never kept empty.
select element_id, tags
from stg_osm__elements
where tags is null or cardinality(tags) = 0
