-- Scopes: under which scope values (org "all", repo, service or team) each deployment, change and
--   incident of the range counts, for the requested $by.
-- Definition: by org every row is "all"; by repo its repo; by service its service (a change's
--   service is that of the deployment that shipped it); by team every team that owns its repo or its
--   service in the configuration (a repo or service may belong to several teams; a row counts once
--   per team), and $no_team ("(no team)") when no team owns either: nothing is dropped. A change's
--   service is its deployment's; an incident with neither a repo nor a service is no team's. Rows
--   with no scope value (by repo or service, an empty one) are left out. $scope keeps one value.
-- Grain: one row per (row, scope). Units: as the facts.
-- Inputs: cadence_team_map (team, kind, value: registered from config.team_rows()),
--   deployment_outcomes, change_facts, incident_attribution; $by, $scope, $no_team, $start_ts, $end_ts.
team_map AS (
    SELECT DISTINCT CAST(team AS VARCHAR) AS team, CAST(kind AS VARCHAR) AS kind,
           CAST(value AS VARCHAR) AS value
    FROM cadence_team_map
),
repo_teams AS (SELECT team, value FROM team_map WHERE kind = 'repo'),
service_teams AS (SELECT team, value FROM team_map WHERE kind = 'service'),
-- Each scoped_* below is: the plain scopes, or (by team) the teams of the repo plus the teams of
-- the service that do not also own the repo, so no row is counted twice for one team.
-- The three blocks stay apart on purpose: scoping each fact table in its own pass reads it once; one
-- shared table of (repo, service) scopes joined back to the facts reads each twice (measured 1.3 to
-- 1.5 times slower for dora_metrics on the demo).
scoped_deployments AS (
    SELECT * FROM (
        SELECT d.*, CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN d.repo WHEN 'service' THEN d.service END AS scope
        FROM deployment_outcomes d WHERE $by <> 'team'
        UNION ALL
        SELECT d.*, t.team FROM deployment_outcomes d JOIN repo_teams t ON t.value = d.repo WHERE $by = 'team'
        UNION ALL
        SELECT d.*, t.team FROM deployment_outcomes d JOIN service_teams t ON t.value = d.service
        LEFT JOIN repo_teams r ON r.value = d.repo AND r.team = t.team
        WHERE $by = 'team' AND r.team IS NULL
        UNION ALL
        SELECT d.*, $no_team FROM deployment_outcomes d
        WHERE $by = 'team' AND NOT EXISTS (SELECT 1 FROM repo_teams r WHERE r.value = d.repo)
          AND NOT EXISTS (SELECT 1 FROM service_teams s WHERE s.value = d.service))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
reported_changes AS (
    SELECT * FROM change_facts
    WHERE deployed_in_range OR (link = 'none' AND merged_at >= $start_ts AND merged_at < $end_ts)
),
scoped_changes AS (
    SELECT * FROM (
        SELECT c.*, CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN c.repo WHEN 'service' THEN c.deployment_service END AS scope
        FROM reported_changes c WHERE $by <> 'team'
        UNION ALL
        SELECT c.*, t.team FROM reported_changes c JOIN repo_teams t ON t.value = c.repo WHERE $by = 'team'
        UNION ALL
        SELECT c.*, t.team FROM reported_changes c JOIN service_teams t ON t.value = c.deployment_service
        LEFT JOIN repo_teams r ON r.value = c.repo AND r.team = t.team
        WHERE $by = 'team' AND r.team IS NULL
        UNION ALL
        SELECT c.*, $no_team FROM reported_changes c
        WHERE $by = 'team' AND NOT EXISTS (SELECT 1 FROM repo_teams r WHERE r.value = c.repo)
          AND NOT EXISTS (SELECT 1 FROM service_teams s WHERE s.value = c.deployment_service))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
range_incidents AS (
    SELECT * FROM incident_attribution WHERE in_range
),
scoped_incidents AS (
    SELECT * FROM (
        SELECT i.*, CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN i.repo WHEN 'service' THEN i.service END AS scope
        FROM range_incidents i WHERE $by <> 'team'
        UNION ALL
        SELECT i.*, t.team FROM range_incidents i JOIN repo_teams t ON t.value = i.repo WHERE $by = 'team'
        UNION ALL
        SELECT i.*, t.team FROM range_incidents i JOIN service_teams t ON t.value = i.service
        LEFT JOIN repo_teams r ON r.value = i.repo AND r.team = t.team
        WHERE $by = 'team' AND r.team IS NULL
        UNION ALL
        SELECT i.*, $no_team FROM range_incidents i
        WHERE $by = 'team' AND NOT EXISTS (SELECT 1 FROM repo_teams r WHERE r.value = i.repo)
          AND NOT EXISTS (SELECT 1 FROM service_teams s WHERE s.value = i.service))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
)
