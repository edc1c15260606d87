-- Every version of every object of a full-history extract (.osh.pbf), read with pyosmium by
-- `rsteller-db ingest osm` (ST_ReadOSM keeps no versions): one row per object version, with
-- when it became current (valid_from, UTC) and whether it exists from then on (visible =
-- false: deleted). A version is current until the object's next version. raw.osm_elements of
-- the same source holds the latest visible version of each object (the map as the file ends).
CREATE TABLE IF NOT EXISTS raw.osm_history (
    source_id BIGINT NOT NULL,
    kind ENUM('node', 'way', 'relation'),
    id BIGINT,
    version INTEGER,
    visible BOOLEAN,
    valid_from TIMESTAMP,
    tags MAP(VARCHAR, VARCHAR),
    refs BIGINT[],
    lat DOUBLE,
    lon DOUBLE,
    ref_roles VARCHAR[],
    ref_types ENUM('node', 'way', 'relation')[]
);
