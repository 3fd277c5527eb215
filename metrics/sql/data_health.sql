-- Data health: how much of the range the DORA definitions could apply to, and what they had to guess.
-- Definition: one coverage figure per check, value out of total, over the same derived facts the
--   metrics use (change links, incident attribution, deployment outcomes) for [start, end]:
--   changes merged in the range with no deployment; deployed changes by link rule; deployments with
--   no change; deployed changes with a negative (unknown) span per stage; incidents by attribution
--   rule; incidents resolved before created; successful production deployments with no finished_at;
--   deployments with no sha; deployments, changes and incidents no team owns.
-- Grain: one row per check (in a fixed order, `ord`). Units: counts.
-- Inputs: change_facts, deployment_outcomes, incident_attribution, range_deployments, valid_deployments,
--   team_map; $start_ts, $end_ts, $prod_envs.
health_changes AS (SELECT * FROM change_facts WHERE deployed_in_range),
health_merged AS (SELECT * FROM change_facts WHERE merged_at >= $start_ts AND merged_at < $end_ts),
health_incidents AS (SELECT * FROM incident_attribution WHERE in_range),
owned_repos AS (SELECT DISTINCT value FROM team_map WHERE kind = 'repo'),
owned_services AS (SELECT DISTINCT value FROM team_map WHERE kind = 'service'),
unfinished AS (
    SELECT count(*) AS n FROM valid_deployments
    WHERE lower(status) = 'success' AND list_contains(CAST($prod_envs AS VARCHAR[]), lower(environment))
      AND finished_at IS NULL AND started_at >= $start_ts AND started_at < $end_ts
),
deployments_with_changes AS (SELECT DISTINCT deployment_id FROM health_changes),
checks AS (
    SELECT 1 AS ord, 'merged changes with no deployment' AS "check",
           (SELECT count(*) FROM health_merged WHERE link = 'none') AS value,
           (SELECT count(*) FROM health_merged) AS total
    UNION ALL SELECT 2, 'deployed changes linked explicitly',
           (SELECT count(*) FROM health_changes WHERE link = 'explicit'), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 3, 'deployed changes linked by merge sha',
           (SELECT count(*) FROM health_changes WHERE link = 'sha'), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 4, 'deployed changes linked by inference (first deployment after merge)',
           (SELECT count(*) FROM health_changes WHERE link = 'inferred'), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 5, 'deployments with no changes',
           (SELECT count(*) FROM range_deployments WHERE id NOT IN (SELECT deployment_id FROM deployments_with_changes)),
           (SELECT count(*) FROM range_deployments)
    UNION ALL SELECT 6, 'deployed changes with unknown lead time (negative)',
           (SELECT count(*) FROM health_changes WHERE lead_raw < 0), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 7, 'deployed changes with unknown coding time (negative)',
           (SELECT count(*) FROM health_changes WHERE coding_raw < 0), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 8, 'deployed changes with unknown pickup time (negative)',
           (SELECT count(*) FROM health_changes WHERE pickup_raw < 0), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 9, 'deployed changes with unknown review time (negative)',
           (SELECT count(*) FROM health_changes WHERE review_raw < 0), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 10, 'deployed changes with unknown deploy time (negative)',
           (SELECT count(*) FROM health_changes WHERE deploy_raw < 0), (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 11, 'incidents attributed explicitly',
           (SELECT count(*) FROM health_incidents WHERE attribution = 'explicit'), (SELECT count(*) FROM health_incidents)
    UNION ALL SELECT 12, 'incidents attributed by inference (service or repo)',
           (SELECT count(*) FROM health_incidents WHERE attribution IN ('service', 'repo')), (SELECT count(*) FROM health_incidents)
    UNION ALL SELECT 13, 'incidents attributed to no deployment',
           (SELECT count(*) FROM health_incidents WHERE attribution = 'none'), (SELECT count(*) FROM health_incidents)
    UNION ALL SELECT 14, 'incidents resolved before they were created',
           (SELECT count(*) FROM health_incidents WHERE recovery_raw < 0), (SELECT count(*) FROM health_incidents)
    UNION ALL SELECT 15, 'successful production deployments with no finished_at',
           (SELECT n FROM unfinished), (SELECT n FROM unfinished) + (SELECT count(*) FROM range_deployments)
    UNION ALL SELECT 16, 'deployments with no sha',
           (SELECT count(*) FROM range_deployments WHERE sha IS NULL), (SELECT count(*) FROM range_deployments)
    UNION ALL SELECT 17, 'deployments no team owns',
           (SELECT count(*) FROM range_deployments WHERE repo NOT IN (SELECT value FROM owned_repos)
                AND service NOT IN (SELECT value FROM owned_services)),
           (SELECT count(*) FROM range_deployments)
    UNION ALL SELECT 18, 'deployed changes no team owns',
           (SELECT count(*) FROM health_changes WHERE repo NOT IN (SELECT value FROM owned_repos)
                AND coalesce(deployment_service NOT IN (SELECT value FROM owned_services), true)),
           (SELECT count(*) FROM health_changes)
    UNION ALL SELECT 19, 'incidents no team owns',
           (SELECT count(*) FROM health_incidents
            WHERE coalesce(repo NOT IN (SELECT value FROM owned_repos), true)
              AND coalesce(service NOT IN (SELECT value FROM owned_services), true)),
           (SELECT count(*) FROM health_incidents)
)
SELECT ord, "check", value, total FROM checks ORDER BY ord
