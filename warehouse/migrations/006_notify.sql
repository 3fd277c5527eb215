-- Notifications (issue 19): the alert state that makes `cadence notify check` send an alert once
-- when it starts firing and once when it resolves, and the log of every delivery attempt that
-- Data health lists. No secret is stored here: a channel is named by its cadence.toml name only.

-- One row per alert key (rule + what it is about, e.g. "stale_source:github:acme/api"); a key that
-- fires again after resolving starts a new episode in the same row (first_seen_at moves).
CREATE TABLE notify_alerts (
    alert_key      VARCHAR PRIMARY KEY,
    rule           VARCHAR NOT NULL,      -- cost_anomaly, cost_budget, dora_regression, ...
    scope          VARCHAR,               -- the team, service, source or repo it is about
    status         VARCHAR NOT NULL,      -- firing / resolved
    title          VARCHAR NOT NULL,      -- one line, as sent
    detail         VARCHAR,               -- the figures behind it, as sent
    link           VARCHAR,               -- the dashboard view it summarises
    first_seen_at  TIMESTAMP NOT NULL,    -- UTC, start of the current (or last) episode
    last_seen_at   TIMESTAMP NOT NULL,    -- UTC, last check that found it firing
    resolved_at    TIMESTAMP,             -- UTC, the check that found it gone (NULL while firing)
    CHECK (status IN ('firing', 'resolved'))
);

-- Per alert and channel: which state the channel has been told. A failed or deferred send leaves
-- `notified` behind `status`, so the next check delivers it; nothing is sent twice.
CREATE TABLE notify_alert_channels (
    alert_key      VARCHAR NOT NULL,
    channel        VARCHAR NOT NULL,      -- the [notify.channels.NAME] name
    notified       VARCHAR,               -- firing / resolved / NULL (nothing delivered yet)
    notified_at    TIMESTAMP,
    PRIMARY KEY (alert_key, channel)
);

-- Every delivery attempt of a digest or an alert (after its retries): what, where, the outcome.
CREATE TABLE notify_deliveries (
    id             VARCHAR PRIMARY KEY,   -- random, one per delivery
    attempted_at   TIMESTAMP NOT NULL,    -- UTC
    kind           VARCHAR NOT NULL,      -- digest / alert / test
    subject        VARCHAR NOT NULL,      -- the digest's week and scope, or the alert key and event
    channel        VARCHAR NOT NULL,
    channel_kind   VARCHAR NOT NULL,      -- slack / teams / email / webhook
    status         VARCHAR NOT NULL,      -- sent / failed
    attempts       INTEGER NOT NULL DEFAULT 0,
    error          VARCHAR                -- scrubbed; what failed and what to do
);
