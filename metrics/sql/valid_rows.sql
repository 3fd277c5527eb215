-- Valid rows: the deployments, changes and incidents whose every time lies in the accepted range
--   (cadence.core.timerange: 1970-01-01 to one day after now, inclusive). Ingest and the webhook refuse
--   any other time, but a row written around them (SQL in the duckdb shell, or a source's own odd
--   time stored by a sync) can hold one (year 10000, year 1, a BC date); such a row is left out of
--   every figure, and Data health counts it (out_of_range.sql). A NULL time (not known yet) is valid.
-- Definition: a row is valid when each of its time columns is NULL or between $valid_from and
--   $valid_until (inclusive).
-- Grain: one row per table row. Units: as the tables.
-- Inputs: deployments, changes, incidents; $valid_from, $valid_until (naive UTC).
-- Form: LEAST and GREATEST pass over NULLs, so "the earliest time >= $valid_from and the latest
--   <= $valid_until" is "each time NULL or in range"; all NULL gives NULL, which coalesce makes valid.
valid_deployments AS NOT MATERIALIZED (
    SELECT * FROM deployments
    WHERE coalesce(least(finished_at, started_at) >= $valid_from
                   AND greatest(finished_at, started_at) <= $valid_until, true)
),
valid_changes AS NOT MATERIALIZED (
    SELECT * FROM changes
    WHERE coalesce(least(merged_at, first_commit_at, opened_at, first_review_at) >= $valid_from
                   AND greatest(merged_at, first_commit_at, opened_at, first_review_at) <= $valid_until, true)
),
valid_incidents AS NOT MATERIALIZED (
    SELECT * FROM incidents
    WHERE coalesce(least(created_at, resolved_at) >= $valid_from
                   AND greatest(created_at, resolved_at) <= $valid_until, true)
)
