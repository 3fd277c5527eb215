-- Data extent: for each warehouse table the dashboard reads, the first and last date it holds
-- and its row count. Grain: one row per table. Units: dates (UTC). Inputs: deployments
-- (finished_at, else started_at), changes (merged_at, else opened_at), incidents (created_at),
-- costs (charge_date), utilization (date). The dashboard anchors its date presets on the latest.
SELECT 'deployments' AS source_table,
       min(coalesce(finished_at, started_at))::DATE AS first_date,
       max(coalesce(finished_at, started_at))::DATE AS last_date,
       count(*) AS row_count
FROM deployments
UNION ALL
SELECT 'changes', min(coalesce(merged_at, opened_at))::DATE, max(coalesce(merged_at, opened_at))::DATE, count(*)
FROM changes
UNION ALL
SELECT 'incidents', min(created_at)::DATE, max(created_at)::DATE, count(*)
FROM incidents
UNION ALL
SELECT 'costs', min(charge_date), max(charge_date), count(*)
FROM costs
UNION ALL
SELECT 'utilization', min(date), max(date), count(*)
FROM utilization
