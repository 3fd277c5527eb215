-- Valid rows: the deployments, changes and incidents whose every time lies in the accepted range
--   (cadence.core.timerange: 1970-01-01 to one day after now, inclusive). Ingest and the webhook refuse
--   any other time, but a row written around them (SQL in the duckdb shell, or a source's own odd
--   time stored by a sync) can hold one (year 10000, year 1, a BC date); such a row is left out of
--   every figure, and Data health counts it (out_of_range.sql). A NULL time (not known yet) is valid.
-- Definition: a row is valid when each of its time columns is NULL or between $valid_from and
--   $valid_until (inclusive).
-- Grain: one row per table row. Units: as the tables.
-- Inputs: deployments, changes, incidents; $valid_from, $valid_until (naive UTC).
valid_deployments AS NOT MATERIALIZED (
    SELECT * FROM deployments
    WHERE coalesce(finished_at BETWEEN $valid_from AND $valid_until, true)
      AND coalesce(started_at BETWEEN $valid_from AND $valid_until, true)
),
valid_changes AS NOT MATERIALIZED (
    SELECT * FROM changes
    WHERE coalesce(merged_at BETWEEN $valid_from AND $valid_until, true)
      AND coalesce(first_commit_at BETWEEN $valid_from AND $valid_until, true)
      AND coalesce(opened_at BETWEEN $valid_from AND $valid_until, true)
      AND coalesce(first_review_at BETWEEN $valid_from AND $valid_until, true)
),
valid_incidents AS NOT MATERIALIZED (
    SELECT * FROM incidents
    WHERE coalesce(created_at BETWEEN $valid_from AND $valid_until, true)
      AND coalesce(resolved_at BETWEEN $valid_from AND $valid_until, true)
)
