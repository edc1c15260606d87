-- NAIP images as ingested by `rsteller-db ingest naip` (one row per image name; a re-ingest
-- replaces the row). The pixel grid is north-up with square pixels of gsd_m metres: pixel
-- (0, 0) has its top-left corner at (xmin, ymax) in EPSG:epsg. footprint is the valid-data
-- polygon in footprint_crs (the image CRS for local rasters, EPSG:4326 for gee and indexes).
CREATE TABLE IF NOT EXISTS raw.naip_images (
    image_name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,        -- local | index | gee
    uri VARCHAR NOT NULL,           -- file path, URL, or Earth Engine image id
    acquired_on DATE,
    date_from VARCHAR,              -- name | tiff_tag | index | gee (NULL: unknown)
    epsg INTEGER NOT NULL,
    gsd_m DOUBLE NOT NULL,
    width_px INTEGER NOT NULL,
    height_px INTEGER NOT NULL,
    band_count INTEGER NOT NULL,
    xmin DOUBLE NOT NULL,
    ymin DOUBLE NOT NULL,
    xmax DOUBLE NOT NULL,
    ymax DOUBLE NOT NULL,
    footprint GEOMETRY NOT NULL,
    footprint_crs VARCHAR NOT NULL,
    source_id BIGINT,               -- _meta.sources row of the ingest
    details JSON,
    ingested_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
