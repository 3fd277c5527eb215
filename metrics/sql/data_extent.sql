-- Data extent: for each warehouse table the dashboard reads, the first and last date it holds
-- and its row count. Grain: one row per table. Units: dates (UTC). Inputs: deployments
-- (finished_at, else started_at), changes (merged_at, else opened_at), incidents (created_at),
-- costs (charge_date), utilization (date). The dashboard anchors its date presets on the latest.
-- First and last come from times in the accepted range only ($valid_from, $valid_until:
-- cadence.core.timerange), so a row dated year 9999 never moves "data through"; row_count counts every
-- row (Data health counts the out-of-range ones: out_of_range.sql).
-- Definition: per table, the first and last date of its rows inside the accepted range and the
--   count of all its rows.
SELECT 'deployments' AS source_table,
       min(t)::DATE AS first_date, max(t)::DATE AS last_date, count(*) AS row_count
FROM (SELECT CASE WHEN coalesce(finished_at, started_at) BETWEEN $valid_from AND $valid_until
                  THEN coalesce(finished_at, started_at) END AS t FROM deployments)
UNION ALL
SELECT 'changes', min(t)::DATE, max(t)::DATE, count(*)
FROM (SELECT CASE WHEN coalesce(merged_at, opened_at) BETWEEN $valid_from AND $valid_until
                  THEN coalesce(merged_at, opened_at) END AS t FROM changes)
UNION ALL
SELECT 'incidents', min(t)::DATE, max(t)::DATE, count(*)
FROM (SELECT CASE WHEN created_at BETWEEN $valid_from AND $valid_until THEN created_at END AS t FROM incidents)
UNION ALL
SELECT 'costs', min(t), max(t), count(*)
FROM (SELECT CASE WHEN charge_date BETWEEN $valid_first_day AND $valid_last_day THEN charge_date END AS t FROM costs)
UNION ALL
SELECT 'utilization', min(t), max(t), count(*)
FROM (SELECT CASE WHEN date BETWEEN $valid_first_day AND $valid_last_day THEN date END AS t FROM utilization)
