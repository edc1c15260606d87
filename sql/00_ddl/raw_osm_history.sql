-- Every version of every object of a full-history extract (.osh.pbf), read with pyosmium by
-- `rsteller-db ingest osm` (ST_ReadOSM keeps no versions): one row per object version, with
-- when it became current (valid_from, UTC), when the object's next version replaced it
-- (valid_until; NULL: still current when the file ends), and whether the object exists from
-- then on (visible = false: deleted). The staging builds the map as of each image's date from
-- these rows (stg_osm__versions); raw.osm_elements holds the plain extracts.
CREATE TABLE IF NOT EXISTS raw.osm_history (
    source_id BIGINT NOT NULL,
    kind ENUM('node', 'way', 'relation'),
    id BIGINT,
    version INTEGER,
    visible BOOLEAN,
    valid_from TIMESTAMP,
    valid_until TIMESTAMP,
    tags MAP(VARCHAR, VARCHAR),
    refs BIGINT[],
    lat DOUBLE,
    lon DOUBLE,
    ref_roles VARCHAR[],
    ref_types ENUM('node', 'way', 'relation')[]
);
-- warehouses created before valid_until (a history file ingested then needs ingesting again)
ALTER TABLE raw.osm_history ADD COLUMN IF NOT EXISTS valid_until TIMESTAMP;
