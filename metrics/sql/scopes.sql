-- Scopes: which scope values (org "all", repo, service or team) each deployment, change and
--   incident counts under, for the requested $by.
-- Definition: by org every row is "all"; by repo its repo; by service its service (a change's
--   service is that of the deployment that shipped it); by team every team that owns its repo or its
--   service in the configuration (a repo or service may belong to several teams; a row counts once
--   per team). Rows with no scope value (no team owns them) are left out. $scope keeps one value.
-- Grain: one row per (row key, scope). Units: none.
-- Inputs: cadence_team_map (team, kind, value: registered from config.team_rows()),
--   deployment_outcomes, change_facts, incident_attribution; $by, $scope, $start_ts, $end_ts.
team_map AS (
    SELECT DISTINCT CAST(team AS VARCHAR) AS team, CAST(kind AS VARCHAR) AS kind,
           CAST(value AS VARCHAR) AS value
    FROM cadence_team_map
),
deployment_scopes AS (
    SELECT key, scope FROM (
        SELECT deployment_id AS key,
               CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN repo WHEN 'service' THEN service END AS scope
        FROM deployment_outcomes WHERE $by <> 'team'
        UNION ALL
        SELECT DISTINCT key, scope FROM (
            SELECT d.deployment_id AS key, t.team AS scope FROM deployment_outcomes d
            JOIN team_map t ON t.kind = 'repo' AND t.value = d.repo WHERE $by = 'team'
            UNION ALL
            SELECT d.deployment_id, t.team FROM deployment_outcomes d
            JOIN team_map t ON t.kind = 'service' AND t.value = d.service WHERE $by = 'team'))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
reported_changes AS (
    SELECT * FROM change_facts
    WHERE deployed_in_range OR (link = 'none' AND merged_at >= $start_ts AND merged_at < $end_ts)
),
change_scopes AS (
    SELECT key, scope FROM (
        SELECT change_id AS key,
               CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN repo WHEN 'service' THEN deployment_service END AS scope
        FROM reported_changes WHERE $by <> 'team'
        UNION ALL
        SELECT DISTINCT key, scope FROM (
            SELECT c.change_id AS key, t.team AS scope FROM reported_changes c
            JOIN team_map t ON t.kind = 'repo' AND t.value = c.repo WHERE $by = 'team'
            UNION ALL
            SELECT c.change_id, t.team FROM reported_changes c
            JOIN team_map t ON t.kind = 'service' AND t.value = c.deployment_service WHERE $by = 'team'))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
incident_scopes AS (
    SELECT key, scope FROM (
        SELECT incident_id AS key,
               CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN repo WHEN 'service' THEN service END AS scope
        FROM incident_attribution WHERE in_range AND $by <> 'team'
        UNION ALL
        SELECT DISTINCT key, scope FROM (
            SELECT i.incident_id AS key, t.team AS scope FROM incident_attribution i
            JOIN team_map t ON t.kind = 'repo' AND t.value = i.repo WHERE i.in_range AND $by = 'team'
            UNION ALL
            SELECT i.incident_id, t.team FROM incident_attribution i
            JOIN team_map t ON t.kind = 'service' AND t.value = i.service WHERE i.in_range AND $by = 'team'))
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
)
