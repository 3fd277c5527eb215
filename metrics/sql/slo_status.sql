-- SLO status: attainment, error budget, burn rates and the change-failure link of every declared
--   SLO, as of $at_ts.
-- Definition: over the SLO's window (slo_hours.in_window): good and total are sums;
--   attainment = good / total; budget = budget_fraction x total; consumed = total - good;
--   budget_remaining = 1 - consumed / budget (negative when overspent). burn_rate_w =
--   (bad_w / total_w) / budget_fraction over the look-back w = 1 h, 6 h, 3 d ending at $at_ts.
--   status is the first that applies: no-data (no events in the window), exhausted (remaining
--   <= 0), fast-burn (1 h rate > 14.4 and 6 h rate > 6), slow-burn (3 d rate > 1), ok - the
--   multiwindow thresholds of the SRE workbook, "Alerting on SLOs". projected_exhaustion: the UTC
--   date at which the remaining budget reaches 0 when spent at the 3 d rate, i.e. $at_ts +
--   remaining x window hours / burn_rate_3d (NULL when that rate is <= 1 or the budget is spent).
--   budget_burned_by_change_failures = bad events in change-failure hours / budget;
--   deployments_into_exhausted_budget = deployments of slo_deployment_budget with exhausted.
--   Figures whose denominator is 0 are NULL.
-- Grain: one row per declared SLO, by name. Units: events; fractions (0.999, not 99.9); burn rates
--   as multiples of the rate that spends exactly the budget over the window; a date; a count.
-- Inputs: slo_defs, slo_hours, slo_change_failure_hours, slo_deployment_budget; $at_ts.
slo_sums AS (
    SELECT s.slo,
           coalesce(sum(h.good) FILTER (WHERE h.in_window), 0) AS good,
           coalesce(sum(h.total) FILTER (WHERE h.in_window), 0) AS total,
           sum(h.bad) FILTER (WHERE h.in_1h) AS bad_1h, sum(h.total) FILTER (WHERE h.in_1h) AS total_1h,
           sum(h.bad) FILTER (WHERE h.in_6h) AS bad_6h, sum(h.total) FILTER (WHERE h.in_6h) AS total_6h,
           sum(h.bad) FILTER (WHERE h.in_3d) AS bad_3d, sum(h.total) FILTER (WHERE h.in_3d) AS total_3d
    FROM slo_defs s
    LEFT JOIN slo_hours h ON h.slo = s.slo
    GROUP BY s.slo
),
slo_figures AS (
    SELECT s.slo, s.service, s.objective, s.budget_fraction, s.window_days, m.good, m.total,
           CASE WHEN m.total > 0 THEN m.good / m.total END AS attainment,
           CASE WHEN m.total > 0 THEN 1 - (m.total - m.good) / (s.budget_fraction * m.total) END AS budget_remaining,
           CASE WHEN m.total_1h > 0 THEN (m.bad_1h / m.total_1h) / s.budget_fraction END AS burn_rate_1h,
           CASE WHEN m.total_6h > 0 THEN (m.bad_6h / m.total_6h) / s.budget_fraction END AS burn_rate_6h,
           CASE WHEN m.total_3d > 0 THEN (m.bad_3d / m.total_3d) / s.budget_fraction END AS burn_rate_3d
    FROM slo_defs s
    JOIN slo_sums m ON m.slo = s.slo
),
slo_change_failure_bad AS (
    SELECT slo, sum(bad) AS bad FROM slo_change_failure_hours GROUP BY slo
),
slo_exhausted_deployments AS (
    SELECT slo, count(*) AS deployments FROM slo_deployment_budget WHERE exhausted GROUP BY slo
)
SELECT f.slo, f.service, f.objective, f.window_days, f.good, f.total, f.attainment, f.budget_remaining,
       f.burn_rate_1h, f.burn_rate_6h, f.burn_rate_3d,
       CASE WHEN f.total = 0 THEN 'no-data'
            WHEN f.budget_remaining <= 0 THEN 'exhausted'
            WHEN f.burn_rate_1h > 14.4 AND f.burn_rate_6h > 6 THEN 'fast-burn'
            WHEN f.burn_rate_3d > 1 THEN 'slow-burn'
            ELSE 'ok' END AS status,
       CASE WHEN f.budget_remaining > 0 AND f.burn_rate_3d > 1
            THEN CAST($at_ts + to_microseconds(CAST(round(f.budget_remaining * f.window_days * 24 * 3600e6
                                                          / f.burn_rate_3d) AS BIGINT)) AS DATE)
       END AS projected_exhaustion,
       CASE WHEN f.total > 0 THEN coalesce(c.bad, 0) / (f.budget_fraction * f.total) END
           AS budget_burned_by_change_failures,
       coalesce(x.deployments, 0) AS deployments_into_exhausted_budget
FROM slo_figures f
LEFT JOIN slo_change_failure_bad c ON c.slo = f.slo
LEFT JOIN slo_exhausted_deployments x ON x.slo = f.slo
ORDER BY f.slo
