-- Drill-down: the change failures open inside each SLO's window, with the bad events of the hours
--   they were open.
-- Definition: as slo_change_failures.sql; bad_events sums the bad events of the window hours the
--   incident was open in (an hour shared by two incidents counts for each here, once in
--   budget_burned_by_change_failures).
-- Grain: one row per (SLO, incident). Units: timestamps UTC; events.
-- Inputs: slo_change_failure_incidents, slo_hours.
SELECT i.slo, i.incident_id, i.deployment_id, i.attribution, i.created_at, i.resolved_at,
       coalesce(sum(h.bad), 0) AS bad_events
FROM slo_change_failure_incidents i
LEFT JOIN slo_hours h
  ON h.slo = i.slo AND h.in_window AND i.created_at < h.hour + INTERVAL 1 HOUR AND i.open_until > h.hour
GROUP BY ALL
ORDER BY i.slo, i.created_at, i.incident_id
