-- Version 1: the tables of DESIGN.md. All times are UTC, stored as naive TIMESTAMP.
-- Every table has a natural primary key, so every write is an idempotent upsert on it.

CREATE TABLE deployments (
    id            VARCHAR PRIMARY KEY,   -- source-qualified, e.g. "github:shop/api:123"
    repo          VARCHAR NOT NULL,
    service       VARCHAR NOT NULL,      -- defaults to the repo
    environment   VARCHAR NOT NULL,
    sha           VARCHAR,
    status        VARCHAR NOT NULL,      -- success / failure / error / in_progress / cancelled
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    url           VARCHAR,
    source        VARCHAR NOT NULL DEFAULT 'ingest'
);

CREATE TABLE changes (
    id               VARCHAR PRIMARY KEY,
    repo             VARCHAR NOT NULL,
    number           BIGINT,
    title            VARCHAR,
    author           VARCHAR,
    labels           VARCHAR[],
    first_commit_at  TIMESTAMP,
    opened_at        TIMESTAMP,
    first_review_at  TIMESTAMP,
    merged_at        TIMESTAMP,
    merge_sha        VARCHAR,
    url              VARCHAR,
    source           VARCHAR NOT NULL DEFAULT 'ingest'
);

CREATE TABLE deployment_changes (
    deployment_id VARCHAR NOT NULL,
    change_id     VARCHAR NOT NULL,
    source        VARCHAR NOT NULL DEFAULT 'ingest',
    PRIMARY KEY (deployment_id, change_id)
);

CREATE TABLE incidents (
    id                       VARCHAR PRIMARY KEY,
    service                  VARCHAR,
    repo                     VARCHAR,
    title                    VARCHAR,
    severity                 VARCHAR,
    created_at               TIMESTAMP NOT NULL,
    resolved_at              TIMESTAMP,
    caused_by_deployment_id  VARCHAR,
    url                      VARCHAR,
    source                   VARCHAR NOT NULL DEFAULT 'ingest'
);

-- FOCUS-shaped: CUR, Cost Explorer and any provider's FOCUS export land in the same columns.
-- Key columns are NOT NULL with '' for "not known", because a primary key cannot hold NULL.
CREATE TABLE costs (
    charge_date         DATE NOT NULL,
    source              VARCHAR NOT NULL,
    provider            VARCHAR NOT NULL,
    billing_account_id  VARCHAR NOT NULL DEFAULT '',
    sub_account_id      VARCHAR NOT NULL DEFAULT '',
    service_name        VARCHAR NOT NULL,
    region              VARCHAR NOT NULL DEFAULT '',
    resource_id         VARCHAR NOT NULL DEFAULT '',
    allocation_tag      VARCHAR NOT NULL DEFAULT '',   -- value of the team tag ('' = untagged)
    service_category    VARCHAR,
    tags                JSON,
    team                VARCHAR NOT NULL DEFAULT 'unallocated',
    billed_cost         DOUBLE NOT NULL DEFAULT 0,
    effective_cost      DOUBLE NOT NULL DEFAULT 0,     -- amortized; the default figure
    list_cost           DOUBLE,
    consumed_quantity   DOUBLE,
    consumed_unit       VARCHAR,
    currency            VARCHAR NOT NULL DEFAULT 'USD',
    estimated           BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (charge_date, source, provider, billing_account_id, sub_account_id,
                 service_name, region, resource_id, allocation_tag)
);

CREATE TABLE utilization (
    date      DATE NOT NULL,
    provider  VARCHAR NOT NULL,
    resource  VARCHAR NOT NULL,
    service   VARCHAR,
    team      VARCHAR NOT NULL DEFAULT 'unallocated',
    metric    VARCHAR NOT NULL,       -- cpu / memory
    avg       DOUBLE,                 -- fraction 0..1 of capacity
    p95       DOUBLE,
    capacity  DOUBLE,                 -- what it was measured against (vCPU, GiB)
    PRIMARY KEY (date, provider, resource, metric)
);

CREATE TABLE commitments (
    date         DATE NOT NULL,
    provider     VARCHAR NOT NULL DEFAULT 'AWS',
    kind         VARCHAR NOT NULL,    -- savings_plan / reservation
    utilization  DOUBLE,              -- fraction 0..1
    coverage     DOUBLE,              -- fraction 0..1
    PRIMARY KEY (date, provider, kind)
);

CREATE TABLE sync_state (
    source           VARCHAR NOT NULL,
    scope            VARCHAR NOT NULL,
    cursor           VARCHAR,
    last_success_at  TIMESTAMP,
    last_error       VARCHAR,
    last_attempt_at  TIMESTAMP,
    rows_written     BIGINT NOT NULL DEFAULT 0,
    details          JSON,             -- per-source extras (ETags, counts); never tokens
    PRIMARY KEY (source, scope)
);

-- Small key/value facts about this warehouse (e.g. is_demo).
CREATE TABLE warehouse_meta (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR
);
