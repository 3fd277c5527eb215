-- Drill-down: the deployments behind deployments, change_failure_rate and rework_rate.
-- Definition: as deployment_outcomes.sql; failure_reasons lists "incident ID" for each attributed
--   incident and "rolled back by ID"; rework_reasons lists "rework change ID" for each shipped
--   change with a rework label or revert title and "open incident ID" for each incident of the
--   service open when it finished. Reasons are joined with "; ", NULL when there are none.
-- Grain: one row per (scope, deployment). Units: finished_at UTC.
-- Inputs: scoped_deployments, deployment_outcomes, valid_incidents.
open_incident_ids AS (
    SELECT d.deployment_id, list(i.id ORDER BY i.created_at, i.id) AS ids
    FROM deployment_outcomes d
    JOIN valid_incidents i ON i.service = d.service AND i.created_at <= d.finished_at
                    AND (i.resolved_at IS NULL OR i.resolved_at >= d.finished_at)
    WHERE d.during_open_incident
    GROUP BY d.deployment_id
),
deployment_rows AS (
    SELECT d.*,
           list_concat(list_transform(coalesce(d.incident_ids, []), lambda x: 'incident ' || x),
                       CASE WHEN d.rolled_back_by IS NOT NULL
                            THEN ['rolled back by ' || d.rolled_back_by] ELSE [] END) AS failure_list,
           list_concat(list_transform(coalesce(d.rework_change_ids, []), lambda x: 'rework change ' || x),
                       list_transform(coalesce(o.ids, []), lambda x: 'open incident ' || x)) AS rework_list
    FROM scoped_deployments d
    LEFT JOIN open_incident_ids o ON o.deployment_id = d.deployment_id
)
SELECT scope, deployment_id, repo, service, finished_at, failed,
       CASE WHEN len(failure_list) > 0 THEN array_to_string(failure_list, '; ') END AS failure_reasons,
       rework,
       CASE WHEN len(rework_list) > 0 THEN array_to_string(rework_list, '; ') END AS rework_reasons
FROM deployment_rows
ORDER BY scope, finished_at, deployment_id
