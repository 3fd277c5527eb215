-- Deployment outcomes: failed (change failure rate) and rework (rework rate) per range deployment.
-- Definition: a deployment failed when at least one incident is attributed to it, or when it was
--   rolled back: the next deployment of the same service (by finished_at, then id) ships a sha that
--   differs from its own and that an earlier deployment of that service already shipped. It is
--   rework when it ships a change carrying a rework label or a title starting with "revert"
--   (case-insensitive), or when it finished while an incident of the same service was open
--   (created_at <= finished_at <= resolved_at, or not resolved).
-- Grain: one row per deployment of the range. Units: booleans and id lists.
-- Inputs: prod_deployments, range_deployments, incident_attribution, change_facts, valid_incidents.
deployment_incidents AS (
    SELECT deployment_id, list(incident_id ORDER BY created_at, incident_id) AS incident_ids
    FROM incident_attribution
    WHERE deployment_id IN (SELECT id FROM range_deployments)
    GROUP BY deployment_id
),
following_deployments AS (
    SELECT id, service, sha, finished_at,
           lead(id) OVER w AS next_id, lead(sha) OVER w AS next_sha
    FROM prod_deployments
    WHERE finished_at >= $start_ts
    WINDOW w AS (PARTITION BY service ORDER BY finished_at, id)
),
rollbacks AS (
    SELECT f.id, f.next_id AS rolled_back_by
    FROM following_deployments f
    WHERE f.finished_at < $end_ts
      AND f.sha IS NOT NULL AND f.next_sha IS NOT NULL AND f.next_sha <> f.sha
      AND EXISTS (SELECT 1 FROM prod_deployments e
                  WHERE e.service = f.service AND e.sha = f.next_sha
                    AND (e.finished_at < f.finished_at OR (e.finished_at = f.finished_at AND e.id < f.id)))
),
rework_changes AS (
    SELECT deployment_id, list(change_id ORDER BY change_id) AS change_ids
    FROM change_facts
    WHERE deployed_in_range AND is_rework_change
    GROUP BY deployment_id
),
-- For each service and incident creation time, the latest resolution among incidents created so far
-- ('infinity' while one is open): a deployment finished inside an open incident iff this is >= it.
open_incident_cover AS (
    SELECT service, created_at, max(coalesce(resolved_at, 'infinity'::TIMESTAMP)) AS resolved_at
    FROM valid_incidents
    WHERE service IS NOT NULL AND created_at < $end_ts
    GROUP BY service, created_at
),
open_incident_until AS (
    SELECT service, created_at,
           max(resolved_at) OVER (PARTITION BY service ORDER BY created_at) AS open_until
    FROM open_incident_cover
),
deployment_outcomes AS MATERIALIZED (
    SELECT d.id AS deployment_id, d.repo, d.service, d.sha, d.finished_at,
           di.incident_ids, rb.rolled_back_by,
           (di.incident_ids IS NOT NULL OR rb.rolled_back_by IS NOT NULL) AS failed,
           rc.change_ids AS rework_change_ids,
           coalesce(o.open_until >= d.finished_at, false) AS during_open_incident,
           (rc.change_ids IS NOT NULL OR coalesce(o.open_until >= d.finished_at, false)) AS rework
    FROM range_deployments d
    LEFT JOIN deployment_incidents di ON di.deployment_id = d.id
    LEFT JOIN rollbacks rb ON rb.id = d.id
    LEFT JOIN rework_changes rc ON rc.deployment_id = d.id
    ASOF LEFT JOIN open_incident_until o ON o.service = d.service AND o.created_at <= d.finished_at
)
