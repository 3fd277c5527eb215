-- Version 7: CI pipelines (issue 18). One row per run attempt in `pipeline_runs` and one row per
-- job of an attempt in `pipeline_jobs`, from `cadence sync github` (GitHub Actions),
-- `cadence ingest pipeline_runs|pipeline_jobs` and the webhook's POST /pipeline_runs.
-- A run's `id` is shared by its attempts (a re-run is attempt 2, 3, ...), so the natural key of a
-- run row is (id, attempt) and of a job row (run_id, attempt, name). Both are small next to the
-- fact tables of migration 004, so the keys are declared primary keys.
-- Times are naive UTC. `conclusion` is NULL while the attempt has not finished.

CREATE TABLE pipeline_runs (
    id           VARCHAR NOT NULL,   -- source-qualified run id, e.g. "github:shop/api:9001"
    attempt      INTEGER NOT NULL,   -- 1 for the first attempt, 2.. for re-runs
    repo         VARCHAR NOT NULL,   -- "owner/name"
    workflow     VARCHAR NOT NULL,   -- workflow (pipeline) name
    branch       VARCHAR,            -- head branch
    sha          VARCHAR,            -- head commit
    event        VARCHAR,            -- push / pull_request / schedule / workflow_dispatch / ...
    status       VARCHAR,            -- queued / in_progress / completed
    conclusion   VARCHAR,            -- success / failure / cancelled / skipped / timed_out / ...; NULL until completed
    created_at   TIMESTAMP,          -- the run's creation (the head commit's push); same for every attempt
    queued_at    TIMESTAMP,          -- this attempt requested
    started_at   TIMESTAMP,          -- this attempt's first job started
    finished_at  TIMESTAMP,          -- this attempt completed
    url          VARCHAR,
    source       VARCHAR NOT NULL DEFAULT 'ingest',
    PRIMARY KEY (id, attempt)
);

CREATE TABLE pipeline_jobs (
    run_id         VARCHAR NOT NULL,   -- pipeline_runs.id
    attempt        INTEGER NOT NULL,   -- pipeline_runs.attempt
    name           VARCHAR NOT NULL,   -- job name, unique within an attempt
    runner_os      VARCHAR,            -- linux / windows / macos (lower case)
    runner_labels  VARCHAR[],          -- runs-on labels, e.g. ['ubuntu-latest'] or ['self-hosted', 'gpu']
    self_hosted    BOOLEAN NOT NULL DEFAULT false,
    queued_at      TIMESTAMP,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    conclusion     VARCHAR,            -- as pipeline_runs.conclusion; NULL until completed
    url            VARCHAR,
    source         VARCHAR NOT NULL DEFAULT 'ingest',
    PRIMARY KEY (run_id, attempt, name)
);
