-- kind: table
-- grain: osm_at
-- fingerprint: rows
-- The OSM times the staging builds the map for from a full-history extract: each distinct
-- time of stg_osm__image_snapshots, or, before any image is ingested, the history's last edit
-- (the map as it ends). Empty with plain extracts only. The stages reading it see the digest
-- of these rows, so an image of a date already known, or any image with plain extracts, does
-- not rebuild the OSM staging.
select distinct osm_at
from stg_osm__image_snapshots
where snapshot = 'per image' and osm_at is not null
union
select max(valid_from)
from raw.osm_history
having count(*) > 0
    and not exists (select 1 from stg_osm__image_snapshots where snapshot = 'per image')
order by osm_at
