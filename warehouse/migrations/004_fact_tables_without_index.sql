-- Version 4: the four large fact tables (deployments, changes, incidents, costs) keep their
-- natural keys but no longer declare them as PRIMARY KEY.
--
-- Why: DuckDB enforces a primary key with an ART index that is built row by row on insert and
-- written out in full at checkpoint. On 5 M changes the index was 225 MB of a 269 MB file and
-- cost more than writing the rows (docs/performance.md, "Ingest"); DuckDB's own guide advises
-- against constraints that are not needed for integrity. Integrity does not need it here: every
-- write to these tables goes through warehouse.upsert / warehouse.ingest, which replace rows on
-- the key inside one write transaction, and write transactions are serialized (DuckDB's file lock
-- between processes, warehouse.db's write lock between threads). Data health counts any key
-- that appears twice (metrics.health.duplicate_keys) so a broken writer cannot hide.
--
-- DuckDB cannot drop a primary key, so each table is rebuilt with the same columns, in the same
-- order, with the same defaults and NOT NULLs (the key columns are NOT NULL), and refilled.

CREATE TABLE deployments_v4 (
    id            VARCHAR NOT NULL,      -- source-qualified, e.g. "github:shop/api:123"
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
INSERT INTO deployments_v4 SELECT * FROM deployments;
DROP TABLE deployments;
ALTER TABLE deployments_v4 RENAME TO deployments;

CREATE TABLE changes_v4 (
    id               VARCHAR NOT NULL,
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
INSERT INTO changes_v4 SELECT * FROM changes;
DROP TABLE changes;
ALTER TABLE changes_v4 RENAME TO changes;

CREATE TABLE incidents_v4 (
    id                       VARCHAR NOT NULL,
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
INSERT INTO incidents_v4 SELECT * FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_v4 RENAME TO incidents;

CREATE TABLE costs_v4 (
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
    estimated           BOOLEAN NOT NULL DEFAULT false
);
INSERT INTO costs_v4 SELECT * FROM costs;
DROP TABLE costs;
ALTER TABLE costs_v4 RENAME TO costs;
