-- DORA metrics per scope and period: deployment frequency, lead time for changes (and its stages),
--   change failure rate, failed deployment recovery time beside MTTR, and rework rate.
-- Definition: deployments and deployment_days count the range's deployments by the period of their
--   finished_at; deploys_per_week divides by the period's days inside the range ÷ 7; changes count
--   in the period of the deployment that shipped them, with continuous quantiles of their spans;
--   change_failure_rate = failed ÷ deployments and rework_rate = rework ÷ deployments (NULL with no
--   deployments); incidents count in the period of created_at; recovery_time_p50_hours is the
--   median duration of resolved incidents attributed to a deployment, mttr_p50_hours of all resolved
--   ones. A (scope, period) with no deployment, deployed change or incident has no row.
-- Grain: one row per (scope, period_start). Units: counts, hours, fractions, deploys per week.
-- Inputs: deployment_outcomes, change_facts, incident_attribution and their scopes; $period
--   (week | month | total), $start_date, $end_date (exclusive).
deployment_rows AS (
    SELECT d.scope,
           CASE $period WHEN 'week' THEN date_trunc('week', d.finished_at)::DATE
                        WHEN 'month' THEN date_trunc('month', d.finished_at)::DATE
                        ELSE CAST($start_date AS DATE) END AS period_start,
           d.finished_at, d.failed, d.rework
    FROM scoped_deployments d
),
deployment_totals AS (
    SELECT scope, period_start, count(*) AS deployments,
           count(DISTINCT CAST(finished_at AS DATE)) AS deployment_days,
           count(*) FILTER (WHERE failed) AS failed_deployments,
           count(*) FILTER (WHERE rework) AS rework_deployments
    FROM deployment_rows GROUP BY scope, period_start
),
change_totals AS (
    SELECT c.scope,
           CASE $period WHEN 'week' THEN date_trunc('week', c.deployed_at)::DATE
                        WHEN 'month' THEN date_trunc('month', c.deployed_at)::DATE
                        ELSE CAST($start_date AS DATE) END AS period_start,
           count(*) AS changes_deployed,
           quantile_cont(c.lead_time_hours, [0.5, 0.75, 0.9]) AS lead_q,
           quantile_cont(c.coding_hours, 0.5) AS coding_p50_hours,
           quantile_cont(c.pickup_hours, 0.5) AS pickup_p50_hours,
           quantile_cont(c.review_hours, 0.5) AS review_p50_hours,
           quantile_cont(c.deploy_hours, 0.5) AS deploy_p50_hours
    FROM scoped_changes c
    WHERE c.deployed_in_range
    GROUP BY ALL
),
incident_totals AS (
    SELECT i.scope,
           CASE $period WHEN 'week' THEN date_trunc('week', i.created_at)::DATE
                        WHEN 'month' THEN date_trunc('month', i.created_at)::DATE
                        ELSE CAST($start_date AS DATE) END AS period_start,
           count(*) AS incidents,
           count(*) FILTER (WHERE i.resolved_at IS NULL) AS open_incidents,
           quantile_cont(i.recovery_hours, 0.5) FILTER (WHERE i.deployment_id IS NOT NULL) AS recovery_time_p50_hours,
           quantile_cont(i.recovery_hours, 0.5) AS mttr_p50_hours
    FROM scoped_incidents i
    GROUP BY ALL
),
period_keys AS (
    SELECT scope, period_start FROM deployment_totals
    UNION SELECT scope, period_start FROM change_totals
    UNION SELECT scope, period_start FROM incident_totals
),
period_days AS (
    SELECT scope, period_start,
           date_diff('day',
                     greatest(period_start, CAST($start_date AS DATE)),
                     least(CASE $period WHEN 'week' THEN period_start + 7
                                        WHEN 'month' THEN CAST(period_start + INTERVAL 1 MONTH AS DATE)
                                        ELSE CAST($end_date AS DATE) END,
                           CAST($end_date AS DATE))) AS days_in_range
    FROM period_keys
)
SELECT k.scope, k.period_start,
       coalesce(d.deployments, 0) AS deployments,
       coalesce(d.deployment_days, 0) AS deployment_days,
       coalesce(d.deployments, 0) / (k.days_in_range / 7.0) AS deploys_per_week,
       coalesce(c.changes_deployed, 0) AS changes_deployed,
       c.lead_q[1] AS lead_time_p50_hours,
       c.lead_q[2] AS lead_time_p75_hours,
       c.lead_q[3] AS lead_time_p90_hours,
       c.coding_p50_hours, c.pickup_p50_hours, c.review_p50_hours, c.deploy_p50_hours,
       coalesce(d.failed_deployments, 0) AS failed_deployments,
       CASE WHEN d.deployments > 0 THEN d.failed_deployments / d.deployments END AS change_failure_rate,
       coalesce(i.incidents, 0) AS incidents,
       coalesce(i.open_incidents, 0) AS open_incidents,
       i.recovery_time_p50_hours, i.mttr_p50_hours,
       CASE WHEN d.deployments > 0 THEN d.rework_deployments / d.deployments END AS rework_rate
FROM period_days k
LEFT JOIN deployment_totals d USING (scope, period_start)
LEFT JOIN change_totals c USING (scope, period_start)
LEFT JOIN incident_totals i USING (scope, period_start)
ORDER BY k.scope, k.period_start
