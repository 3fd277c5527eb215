-- Out-of-range times: per table and time column, the rows holding a time outside the accepted
--   range (cadence.core.timerange: 1970-01-01 to one day after now). Ingest and the webhook refuse such
--   times; a row written around them (SQL, or a sync storing a source's odd time) can hold one, and
--   the metrics leave it out (valid_rows.sql; cost_lines.sql and the utilization and commitment
--   queries for days).
-- Grain: one row per (table, column) with at least one such row, plus `*` per table: rows with
--   any. Units: row counts. Inputs: deployments, changes, incidents, costs, utilization,
--   commitments; $valid_from, $valid_until (times), $valid_first_day, $valid_last_day (days).
-- Definition: a row counts for a (table, column) when that column holds a time (or day) outside
--   the accepted range, and once under `*` when any of its columns does.
WITH counts AS (
    SELECT 'deployments' AS source_table,
           count(*) FILTER (WHERE NOT coalesce(finished_at BETWEEN $valid_from AND $valid_until, true)) AS finished_at,
           count(*) FILTER (WHERE NOT coalesce(started_at BETWEEN $valid_from AND $valid_until, true)) AS started_at,
           count(*) FILTER (WHERE NOT (coalesce(finished_at BETWEEN $valid_from AND $valid_until, true)
                                       AND coalesce(started_at BETWEEN $valid_from AND $valid_until, true))) AS any_column
    FROM deployments
), change_counts AS (
    SELECT count(*) FILTER (WHERE NOT coalesce(first_commit_at BETWEEN $valid_from AND $valid_until, true)) AS first_commit_at,
           count(*) FILTER (WHERE NOT coalesce(opened_at BETWEEN $valid_from AND $valid_until, true)) AS opened_at,
           count(*) FILTER (WHERE NOT coalesce(first_review_at BETWEEN $valid_from AND $valid_until, true)) AS first_review_at,
           count(*) FILTER (WHERE NOT coalesce(merged_at BETWEEN $valid_from AND $valid_until, true)) AS merged_at,
           count(*) FILTER (WHERE NOT (coalesce(first_commit_at BETWEEN $valid_from AND $valid_until, true)
                                       AND coalesce(opened_at BETWEEN $valid_from AND $valid_until, true)
                                       AND coalesce(first_review_at BETWEEN $valid_from AND $valid_until, true)
                                       AND coalesce(merged_at BETWEEN $valid_from AND $valid_until, true))) AS any_column
    FROM changes
), incident_counts AS (
    SELECT count(*) FILTER (WHERE NOT coalesce(created_at BETWEEN $valid_from AND $valid_until, true)) AS created_at,
           count(*) FILTER (WHERE NOT coalesce(resolved_at BETWEEN $valid_from AND $valid_until, true)) AS resolved_at,
           count(*) FILTER (WHERE NOT (coalesce(created_at BETWEEN $valid_from AND $valid_until, true)
                                       AND coalesce(resolved_at BETWEEN $valid_from AND $valid_until, true))) AS any_column
    FROM incidents
), all_counts AS (
    SELECT 1 AS ord, 'deployments' AS source_table, 'finished_at' AS time_column, finished_at AS n_rows FROM counts
    UNION ALL SELECT 1, 'deployments', 'started_at', started_at FROM counts
    UNION ALL SELECT 1, 'deployments', '*', any_column FROM counts
    UNION ALL SELECT 2, 'changes', 'first_commit_at', first_commit_at FROM change_counts
    UNION ALL SELECT 2, 'changes', 'opened_at', opened_at FROM change_counts
    UNION ALL SELECT 2, 'changes', 'first_review_at', first_review_at FROM change_counts
    UNION ALL SELECT 2, 'changes', 'merged_at', merged_at FROM change_counts
    UNION ALL SELECT 2, 'changes', '*', any_column FROM change_counts
    UNION ALL SELECT 3, 'incidents', 'created_at', created_at FROM incident_counts
    UNION ALL SELECT 3, 'incidents', 'resolved_at', resolved_at FROM incident_counts
    UNION ALL SELECT 3, 'incidents', '*', any_column FROM incident_counts
    UNION ALL SELECT 4, 'costs', 'charge_date', count(*) FROM costs
              WHERE charge_date NOT BETWEEN $valid_first_day AND $valid_last_day
    UNION ALL SELECT 5, 'utilization', 'date', count(*) FROM utilization
              WHERE date NOT BETWEEN $valid_first_day AND $valid_last_day
    UNION ALL SELECT 6, 'commitments', 'date', count(*) FROM commitments
              WHERE date NOT BETWEEN $valid_first_day AND $valid_last_day
)
SELECT ord, source_table, time_column, n_rows FROM all_counts WHERE n_rows > 0 ORDER BY ord, time_column
