-- Budget at deployment: the error budget an SLO had left when each production deployment of its
--   service went out.
-- Definition: for every successful production deployment of the SLO's service that finished at t
--   within the SLO's window ending $at_ts, the budget remaining "while it deployed" is the SLO's
--   budget_remaining over the window of whole hours that ends at the start of t's hour (the last
--   complete hour before it: what the team could have seen), i.e. 1 - (total - good) /
--   (budget_fraction x total) over those hours; NULL when they hold no events. It deployed into an
--   exhausted budget when that is <= 0.
-- Grain: one row per (SLO, deployment). Units: events; fraction; timestamps UTC.
-- Inputs: sli_hours, slo_defs, prod_deployments; $at_ts.
slo_cumulative AS (
    SELECT h.slo, h.hour,
           sum(h.good) OVER w AS cum_good,
           sum(h.total) OVER w AS cum_total
    FROM sli_hours h
    WHERE h.slo IN (SELECT slo FROM slo_defs) AND h.hour < $at_ts
    WINDOW w AS (PARTITION BY h.slo ORDER BY h.hour ROWS UNBOUNDED PRECEDING)
),
slo_deployments AS (
    SELECT s.slo, s.budget_fraction, d.id AS deployment_id, d.repo, d.service, d.finished_at,
           date_trunc('hour', d.finished_at) AS deploy_hour,
           date_trunc('hour', d.finished_at) - to_days(s.window_days) AS trailing_start
    FROM slo_defs s
    JOIN prod_deployments d ON d.service = s.service
    WHERE d.finished_at >= $at_ts - to_days(s.window_days) AND d.finished_at < $at_ts
),
slo_deployment_sums AS (
    SELECT d.*,
           coalesce(e.cum_good, 0) - coalesce(b.cum_good, 0) AS good,
           coalesce(e.cum_total, 0) - coalesce(b.cum_total, 0) AS total
    FROM slo_deployments d
    ASOF LEFT JOIN slo_cumulative e ON e.slo = d.slo AND d.deploy_hour > e.hour
    ASOF LEFT JOIN slo_cumulative b ON b.slo = d.slo AND d.trailing_start > b.hour
),
slo_deployment_budget AS (
    SELECT slo, deployment_id, repo, service, finished_at, good, total,
           CASE WHEN total > 0 THEN 1 - (total - good) / (budget_fraction * total) END AS budget_remaining,
           coalesce(total > 0 AND 1 - (total - good) / (budget_fraction * total) <= 0, false) AS exhausted
    FROM slo_deployment_sums
)
