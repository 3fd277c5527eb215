-- Incident → deployment attribution.
-- Definition: an incident is caused by caused_by_deployment_id when given ("explicit"); else by the
--   latest successful production deployment of the same service that finished at or before
--   created_at and at most $window_days before it ("service"); when the incident has no service,
--   the same rule over its repo ("repo"); else by none. Ties on finished_at go to the highest id.
-- Grain: one row per incident that is created in the range, could be attributed to a deployment of
--   the range (created up to the window after it ends), or names a range deployment explicitly;
--   `in_range` marks the incidents that belong to the range (by created_at).
-- Units: timestamps (UTC); recovery_hours in hours, NULL when open or negative.
-- Inputs: valid_incidents, prod_deployments; $start_ts, $end_ts, $window_days.
attribution_targets AS (
    SELECT id, repo, service, finished_at FROM prod_deployments
    WHERE finished_at >= $start_ts - to_days(CAST($window_days AS INTEGER))
      AND finished_at < $end_ts + to_days(CAST($window_days AS INTEGER))
),
candidate_incidents AS (
    SELECT id, service, repo, created_at, resolved_at, caused_by_deployment_id FROM valid_incidents
    WHERE (created_at >= $start_ts AND created_at < $end_ts + to_days(CAST($window_days AS INTEGER)))
       OR caused_by_deployment_id IN (SELECT id FROM range_deployments)
),
-- The possible answers, only for the services, and the repos of incidents without a service, that
-- need one (the ASOF joins below sort them).
service_targets AS (
    SELECT service, finished_at, max(id) AS id FROM attribution_targets
    WHERE service IN (SELECT service FROM candidate_incidents WHERE caused_by_deployment_id IS NULL)
    GROUP BY service, finished_at
),
repo_targets AS (
    SELECT repo, finished_at, max(id) AS id FROM attribution_targets
    WHERE repo IN (SELECT repo FROM candidate_incidents
                   WHERE caused_by_deployment_id IS NULL AND service IS NULL)
    GROUP BY repo, finished_at
),
incident_matches AS (
    SELECT i.*,
           CASE WHEN s.finished_at >= i.created_at - to_days(CAST($window_days AS INTEGER)) THEN s.id END AS service_match,
           CASE WHEN r.finished_at >= i.created_at - to_days(CAST($window_days AS INTEGER)) THEN r.id END AS repo_match
    FROM candidate_incidents i
    ASOF LEFT JOIN service_targets s ON s.service = i.service AND s.finished_at <= i.created_at
    ASOF LEFT JOIN repo_targets r ON r.repo = i.repo AND r.finished_at <= i.created_at
),
incident_attribution AS MATERIALIZED (
    SELECT id AS incident_id, service, repo, created_at, resolved_at,
           CASE WHEN caused_by_deployment_id IS NOT NULL THEN caused_by_deployment_id
                WHEN service IS NOT NULL THEN service_match
                ELSE repo_match END AS deployment_id,
           CASE WHEN caused_by_deployment_id IS NOT NULL THEN 'explicit'
                WHEN service IS NOT NULL AND service_match IS NOT NULL THEN 'service'
                WHEN service IS NULL AND repo_match IS NOT NULL THEN 'repo'
                ELSE 'none' END AS attribution,
           (created_at >= $start_ts AND created_at < $end_ts) AS in_range,
           (epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9 AS recovery_raw,
           CASE WHEN resolved_at >= created_at
                THEN (epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9 END AS recovery_hours
    FROM incident_matches
)
