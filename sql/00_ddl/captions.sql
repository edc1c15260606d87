-- Captions written by `rsteller-db caption`, one row per attempt at a request, and the runs.
-- Created on every writable open; every statement is idempotent.
-- caption_id = '{request_id}-a{attempt}': the primary key makes a second write of the same
-- attempt impossible, and the runner never asks again for a request that has an accepted row.
CREATE TABLE IF NOT EXISTS captions (
    caption_id VARCHAR PRIMARY KEY,
    request_id VARCHAR NOT NULL,
    patch_id BIGINT NOT NULL,
    task INTEGER NOT NULL,           -- 1 area, 2 line, 3 revision
    attempt INTEGER NOT NULL,        -- 1, 2, ... per request
    text VARCHAR,
    annotator VARCHAR NOT NULL,      -- model id as the server reports it
    backend VARCHAR NOT NULL,        -- sglang | openai | local | template
    prompt_name VARCHAR NOT NULL,
    prompt_hash VARCHAR NOT NULL,
    sampling JSON NOT NULL,          -- temperature, top_p, max_tokens, seed
    status VARCHAR NOT NULL,         -- accepted | rejected | failed
    reject_reason VARCHAR,           -- rule name (rejected) or transport error (failed)
    tokens_in INTEGER,
    tokens_out INTEGER,
    latency_s DOUBLE,
    run_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS _meta.caption_runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,         -- running | finished | interrupted | failed | killed
    backend VARCHAR NOT NULL,
    annotator VARCHAR,
    target VARCHAR,                  -- server URLs or model file
    tasks VARCHAR NOT NULL,          -- e.g. '1,2,3'
    options JSON,                    -- concurrency, batch size, limit, retries, timeout
    sampling JSON,
    requests BIGINT NOT NULL DEFAULT 0,
    accepted BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    rejected_by_reason JSON,         -- {"word_count_task12": 3, ...}
    tokens_in BIGINT NOT NULL DEFAULT 0,
    tokens_out BIGINT NOT NULL DEFAULT 0,
    wall_s DOUBLE NOT NULL DEFAULT 0,
    host VARCHAR,                    -- where the run's process ran, and its PID: a later run
    pid INTEGER,                     -- on that host marks a 'running' run whose process is gone 'killed'
    rules JSON                       -- the rule book that judged the run: {"rule": "kind", ...}
);
-- warehouses created before host/pid were recorded
ALTER TABLE _meta.caption_runs ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE _meta.caption_runs ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE _meta.caption_runs ADD COLUMN IF NOT EXISTS rules JSON;
