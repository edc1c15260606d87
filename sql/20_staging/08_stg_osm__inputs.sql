-- kind: view
-- grain: one row
-- How the OSM staging reads the raw objects, shared by stg_osm__ways, stg_osm__multipolygons
-- and stg_osm__elements: 'history' when a full-history extract was ingested (every object
-- comes from stg_osm__versions), 'one extract' when the objects come from one extract (no
-- copies to choose between: no grouping needed), 'several extracts' when several PBFs hold
-- copies of the same objects (the copy from the latest source wins).
select case
    when exists (select 1 from raw.osm_history) then 'history'
    when min(source_id) = max(source_id) then 'one extract'
    else 'several extracts' end as osm_input
from raw.osm_elements
