-- Drill-down of incident-based availability: the incidents behind each service's incident_hours.
-- Definition: every incident of a service open at some time in [$start_ts, $end_ts) (as in
--   incident_availability.sql), with the hours it was open inside the period (before overlaps are
--   merged; an unresolved incident is open to the period's end).
-- Grain: one row per incident. Units: timestamps UTC; hours.
-- Inputs: valid_incidents (valid_rows.sql); $start_ts, $end_ts.
SELECT service, id AS incident_id, title, severity, created_at, resolved_at,
       (epoch_us(least(coalesce(resolved_at, $end_ts), $end_ts)) - epoch_us(greatest(created_at, $start_ts)))
           / 3.6e9 AS open_hours_in_period
FROM valid_incidents
WHERE service IS NOT NULL AND created_at < $end_ts
  AND coalesce(resolved_at, 'infinity'::TIMESTAMP) > $start_ts
ORDER BY service, created_at, id
