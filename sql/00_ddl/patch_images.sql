-- The image cache written by `rsteller-db images fetch`: one row per patch that was tried.
-- path is relative to the warehouse folder: images/<image_name>/<patch_id>.jpg
CREATE TABLE IF NOT EXISTS patch_images (
    patch_id BIGINT PRIMARY KEY,
    path VARCHAR,                   -- NULL when the fetch failed
    status VARCHAR NOT NULL,        -- ok | failed
    reason VARCHAR,                 -- why it failed (NULL when ok)
    attempts INTEGER NOT NULL,      -- tries over all runs
    fetched_at TIMESTAMP NOT NULL
);
