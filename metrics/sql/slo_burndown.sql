-- Error budget burn-down of one SLO over its window ending $at_ts, hour by hour.
-- Definition: every whole hour h of the window, gaps included: good, total and bad (NULL in a gap)
--   and budget_remaining = 1 - (bad events from the window's first hour through h) / (the whole
--   window's budget, budget_fraction x the window's total): it starts near 1 and ends at the SLO's
--   budget_remaining in slo_status. change_failure marks the hours in which a change failure of the
--   service was open (slo_change_failures.sql), with their incident_ids.
-- Grain: one row per hour of the window (cadence_slos holds the one SLO asked for). Units: events;
--   fraction; hour = start of the UTC hour.
-- Inputs: slo_defs, slo_hours, slo_change_failure_hours; $at_ts.
slo_grid AS (
    SELECT s.slo, s.budget_fraction,
           unnest(generate_series($at_ts - to_days(s.window_days), $at_ts - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS hour
    FROM slo_defs s
)
SELECT g.slo, g.hour, h.good, h.total, h.bad,
       1 - sum(coalesce(h.bad, 0)) OVER (PARTITION BY g.slo ORDER BY g.hour ROWS UNBOUNDED PRECEDING)
           / nullif(g.budget_fraction * sum(h.total) OVER (PARTITION BY g.slo), 0) AS budget_remaining,
       c.hour IS NOT NULL AS change_failure,
       c.incident_ids
FROM slo_grid g
LEFT JOIN slo_hours h ON h.slo = g.slo AND h.hour = g.hour AND h.in_window
LEFT JOIN slo_change_failure_hours c ON c.slo = g.slo AND c.hour = g.hour
ORDER BY g.slo, g.hour
