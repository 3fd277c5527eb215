-- DORA metrics per scope and period: deployment frequency, lead time for changes (and its stages),
--   change failure rate, failed deployment recovery time beside MTTR, and rework rate.
-- Definition: deployments and deployment_days count the range's deployments by the period of their
--   finished_at; deploys_per_week divides by the period's days inside the range ÷ 7; changes count
--   in the period of the deployment that shipped them, with continuous quantiles of their spans
--   (lead time and its stages over human changes only: a bot's change, is_bot, is counted in
--   changes_deployed but left out of every span quantile);
--   change_failure_rate = failed ÷ deployments and rework_rate = rework ÷ deployments (NULL with no
--   deployments); incidents count in the period of created_at; recovery_time_p50_hours is the
--   median duration of resolved incidents attributed to a deployment, mttr_p50_hours of all resolved
--   ones. A (scope, period) with no deployment, deployed change or incident has no row.
--   Several views (ranges with their period) can be computed in one pass over the same facts: the
--   facts are computed for the range that covers them all ($start_ts, $end_ts), and every view
--   counts only the rows of its own range, so each gives what a query of its own would.
-- Grain: one row per (view_no, scope, period_start). Units: counts, hours, fractions, deploys per
--   week.
-- Inputs: deployment_outcomes, change_facts, incident_attribution and their scopes; $view_starts,
--   $view_ends (exclusive) and $view_periods (week | month | total), one element per view.
metric_views AS (
    SELECT unnest(range(len(CAST($view_starts AS DATE[])))) AS view_no,
           unnest(CAST($view_starts AS DATE[])) AS view_start,
           unnest(CAST($view_ends AS DATE[])) AS view_end,
           unnest(CAST($view_periods AS VARCHAR[])) AS view_period
),
deployment_rows AS (
    SELECT v.view_no, d.scope,
           CASE WHEN v.view_period = 'total' THEN v.view_start
                ELSE date_trunc(v.view_period, d.finished_at)::DATE END AS period_start,
           d.finished_at, d.failed, d.rework
    FROM scoped_deployments d
    JOIN metric_views v ON d.finished_at >= v.view_start AND d.finished_at < v.view_end
),
deployment_totals AS (
    SELECT view_no, scope, period_start, count(*) AS deployments,
           count(DISTINCT CAST(finished_at AS DATE)) AS deployment_days,
           count(*) FILTER (WHERE failed) AS failed_deployments,
           count(*) FILTER (WHERE rework) AS rework_deployments
    FROM deployment_rows GROUP BY view_no, scope, period_start
),
change_totals AS (
    SELECT v.view_no, c.scope,
           CASE WHEN v.view_period = 'total' THEN v.view_start
                ELSE date_trunc(v.view_period, c.deployed_at)::DATE END AS period_start,
           count(*) AS changes_deployed,
           quantile_cont(c.lead_time_hours, [0.5, 0.75, 0.9]) FILTER (WHERE NOT c.is_bot) AS lead_q,
           quantile_cont(c.coding_hours, 0.5) FILTER (WHERE NOT c.is_bot) AS coding_p50_hours,
           quantile_cont(c.pickup_hours, 0.5) FILTER (WHERE NOT c.is_bot) AS pickup_p50_hours,
           quantile_cont(c.review_hours, 0.5) FILTER (WHERE NOT c.is_bot) AS review_p50_hours,
           quantile_cont(c.deploy_hours, 0.5) FILTER (WHERE NOT c.is_bot) AS deploy_p50_hours
    FROM scoped_changes c
    JOIN metric_views v ON c.deployed_at >= v.view_start AND c.deployed_at < v.view_end
    WHERE c.deployed_in_range
    GROUP BY ALL
),
incident_totals AS (
    SELECT v.view_no, i.scope,
           CASE WHEN v.view_period = 'total' THEN v.view_start
                ELSE date_trunc(v.view_period, i.created_at)::DATE END AS period_start,
           count(*) AS incidents,
           count(*) FILTER (WHERE i.resolved_at IS NULL) AS open_incidents,
           quantile_cont(i.recovery_hours, 0.5) FILTER (WHERE i.deployment_id IS NOT NULL) AS recovery_time_p50_hours,
           quantile_cont(i.recovery_hours, 0.5) AS mttr_p50_hours
    FROM scoped_incidents i
    JOIN metric_views v ON i.created_at >= v.view_start AND i.created_at < v.view_end
    GROUP BY ALL
),
period_keys AS (
    SELECT view_no, scope, period_start FROM deployment_totals
    UNION SELECT view_no, scope, period_start FROM change_totals
    UNION SELECT view_no, scope, period_start FROM incident_totals
),
period_days AS (
    SELECT k.view_no, k.scope, k.period_start,
           date_diff('day',
                     greatest(k.period_start, v.view_start),
                     least(CASE v.view_period WHEN 'week' THEN k.period_start + 7
                                              WHEN 'month' THEN CAST(k.period_start + INTERVAL 1 MONTH AS DATE)
                                              ELSE v.view_end END,
                           v.view_end)) AS days_in_range
    FROM period_keys k JOIN metric_views v USING (view_no)
)
SELECT k.view_no, k.scope, k.period_start,
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
LEFT JOIN deployment_totals d USING (view_no, scope, period_start)
LEFT JOIN change_totals c USING (view_no, scope, period_start)
LEFT JOIN incident_totals i USING (view_no, scope, period_start)
ORDER BY k.view_no, k.scope, k.period_start
