-- Bookkeeping of the warehouse. Run on every writable open; every statement is idempotent.
CREATE SCHEMA IF NOT EXISTS _meta;
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS _meta.settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,      -- JSON
    default_value VARCHAR NOT NULL,
    source VARCHAR NOT NULL,     -- default | path of rsteller.toml | override
    description VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS _meta.stage_run_ids;
CREATE TABLE IF NOT EXISTS _meta.stage_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('_meta.stage_run_ids'),
    build_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    layer VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    sql_hash VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    status VARCHAR NOT NULL,     -- built | skipped | failed
    row_count BIGINT,
    started_at TIMESTAMP NOT NULL,
    duration_s DOUBLE NOT NULL,
    message VARCHAR,
    partition_key VARCHAR        -- a partition's build of a partitioned stage (NULL: whole)
);
-- warehouses created before partitions
ALTER TABLE _meta.stage_runs ADD COLUMN IF NOT EXISTS partition_key VARCHAR;

-- what each partition of a partitioned stage was last built from (rsteller_db/stages/)
CREATE TABLE IF NOT EXISTS _meta.partition_state (
    stage VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    row_count BIGINT,
    built_at TIMESTAMP NOT NULL,
    build_id VARCHAR NOT NULL,
    PRIMARY KEY (stage, partition_key)
);

CREATE SEQUENCE IF NOT EXISTS _meta.source_ids;
CREATE TABLE IF NOT EXISTS _meta.sources (
    source_id BIGINT PRIMARY KEY DEFAULT nextval('_meta.source_ids'),
    kind VARCHAR NOT NULL,       -- osm | naip | taginfo
    name VARCHAR NOT NULL,
    uri VARCHAR NOT NULL,
    size_bytes BIGINT,
    sha256 VARCHAR,
    snapshot_at TIMESTAMP,       -- OSM replication timestamp, image date, ...
    details JSON,
    ingested_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- a stage built in slices (`-- slices:` header) keeps the rows where
-- hash(key) % slice_count() = slice_index(); the runner shadows these with the slice it builds
CREATE OR REPLACE MACRO slice_count() AS 1;
CREATE OR REPLACE MACRO slice_index() AS 0;

-- setting('key') -> the value as text; cast where used, e.g. setting('patch_size_px')::INT
CREATE OR REPLACE MACRO setting(k) AS (
    SELECT json_extract_string(value, '$') FROM _meta.settings WHERE key = k
);

-- osm_valid_at(osm_from, osm_until, t): whether an element state (a row of the OSM staging,
-- valid for OSM times osm_from <= t < osm_until) is the one an image whose OSM time is t sees
-- (stg_osm__image_snapshots.osm_at). A plain extract's states span -infinity .. infinity; a
-- NULL time sees the states that are still current (the map as the files end).
CREATE OR REPLACE MACRO osm_valid_at(osm_from, osm_until, t) AS
    coalesce(osm_from <= t AND t < osm_until, osm_until = 'infinity'::TIMESTAMP);
