-- SLIs per SLO and UTC hour (issue 17): good and total events counted in the hour that starts at
-- `hour`, from `cadence sync prometheus`, `cadence ingest sli` or the webhook's POST /sli.
-- An hour without a row is a gap: it counts as neither good nor bad. Small (SLOs x hours), so the
-- natural key is a declared primary key.
CREATE TABLE sli_hours (
    slo     VARCHAR NOT NULL,      -- the SLO's name in cadence.toml [[slos]]
    hour    TIMESTAMP NOT NULL,    -- start of the UTC hour, whole hour
    good    DOUBLE NOT NULL,       -- good events in the hour
    total   DOUBLE NOT NULL,       -- all events in the hour
    source  VARCHAR NOT NULL DEFAULT 'ingest',
    PRIMARY KEY (slo, hour),
    CHECK (good >= 0 AND good <= total)
);
