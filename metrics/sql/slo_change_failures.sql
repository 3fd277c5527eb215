-- Change-failure hours: the hours of an SLO's window during which a change failure of its service
--   was open.
-- Definition: a change failure of a service is an incident that incident_attribution.sql ties to a
--   successful production deployment of that service (explicitly, or by service or repo and time:
--   the rule of the change failure rate). It is open from created_at until resolved_at (until
--   $at_ts while unresolved, or resolved later). An hour [h, h + 1 h) of the SLO's window is a
--   change-failure hour when such an incident is open during any part of it:
--   created_at < h + 1 h and open_until > h. Its bad events are the ones the change failures burned.
-- Grain: slo_change_failure_incidents: one row per (SLO, incident); slo_change_failure_hours: one
--   row per (SLO, change-failure hour with an SLI row). Units: events; timestamps UTC.
-- Inputs: slo_hours, slo_defs, incident_attribution, prod_deployments; $at_ts.
slo_change_failure_incidents AS (
    SELECT s.slo, a.incident_id, a.deployment_id, a.attribution, a.created_at, a.resolved_at,
           least(coalesce(a.resolved_at, $at_ts), $at_ts) AS open_until
    FROM incident_attribution a
    JOIN prod_deployments d ON d.id = a.deployment_id
    JOIN slo_defs s ON s.service = d.service
    WHERE a.created_at < $at_ts
      AND least(coalesce(a.resolved_at, $at_ts), $at_ts) > $at_ts - to_days(s.window_days)
),
slo_change_failure_hours AS (
    SELECT h.slo, h.hour, any_value(h.bad) AS bad,
           list(DISTINCT i.incident_id ORDER BY i.incident_id) AS incident_ids
    FROM slo_hours h
    JOIN slo_change_failure_incidents i
      ON i.slo = h.slo AND i.created_at < h.hour + INTERVAL 1 HOUR AND i.open_until > h.hour
    WHERE h.in_window
    GROUP BY h.slo, h.hour
)
