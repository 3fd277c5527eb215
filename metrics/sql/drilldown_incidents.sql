-- Drill-down: the incidents behind incidents, open_incidents, recovery time and MTTR, with the
--   deployment each is attributed to.
-- Definition: as incident_attribution.sql; attribution is explicit / service / repo / none.
-- Grain: one row per (scope, incident created in the range). Units: timestamps UTC.
-- Inputs: scoped_incidents.
incident_rows AS (SELECT * FROM scoped_incidents)
SELECT scope, incident_id, service, created_at, resolved_at, deployment_id, attribution
FROM incident_rows
ORDER BY scope, created_at, incident_id
