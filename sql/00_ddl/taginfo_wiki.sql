-- Tag meanings from the taginfo wiki database (English pages), loaded by
-- `rsteller-db ingest taginfo FILE`; value '' for a page about a key alone.
CREATE TABLE IF NOT EXISTS raw.taginfo_wiki (
    key VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    description VARCHAR
);
