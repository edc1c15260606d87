-- Raw OpenStreetMap objects, one row per object per ingested PBF, exactly as DuckDB
-- spatial's ST_ReadOSM returns them (changesets left out). Written only by
-- `rsteller-db ingest osm`, in one transaction per file; staging reads it.
-- source_id points at _meta.sources; an object held by several extracts has one row each,
-- and staging keeps the copy from the latest source.
CREATE TABLE IF NOT EXISTS raw.osm_elements (
    source_id BIGINT NOT NULL,
    kind ENUM('node', 'way', 'relation', 'changeset'),
    id BIGINT,
    tags MAP(VARCHAR, VARCHAR),
    refs BIGINT[],                              -- way: node ids; relation: member ids
    lat DOUBLE,                                 -- node only, EPSG:4326
    lon DOUBLE,
    ref_roles VARCHAR[],                        -- relation member roles
    ref_types ENUM('node', 'way', 'relation')[] -- relation member types
);
