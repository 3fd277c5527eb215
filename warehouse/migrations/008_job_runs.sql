-- Runs of the jobs `cadence serve` schedules (issue 16): one row per run of a sync of one source
-- ("sync:github") or of the weekly export ("export"). A run is inserted as 'running' when it
-- starts and closed with its outcome when it ends; a run that a stopped or killed service left
-- 'running' is closed as 'interrupted' when the service starts again (its writes were
-- transactions: each committed or rolled back whole). Data health lists them; the dashboard's
-- "data as of" is the end of the latest successful sync run. Small (jobs x runs): a declared key.
CREATE TABLE job_runs (
    run_id      VARCHAR NOT NULL PRIMARY KEY,  -- random id of the run
    job         VARCHAR NOT NULL,              -- "sync:<source>" or "export"
    started_at  TIMESTAMP NOT NULL,            -- UTC
    finished_at TIMESTAMP,                     -- UTC; NULL while running
    outcome     VARCHAR NOT NULL,              -- running | success | failed | interrupted
    rows_written BIGINT,                       -- rows the run wrote (NULL when unknown)
    message     VARCHAR,                       -- error or note, scrubbed of secrets
    trigger     VARCHAR                        -- schedule | missed | manual
);
