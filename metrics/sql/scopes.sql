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
-- The scopes of each fact row come from one macro, cadence_scopes (scope_macro.sql: the same rule for
-- deployments, changes and incidents), so each fact table is read once and the rule written once.
scoped_deployments AS (
    SELECT * FROM (SELECT d.*, unnest(cadence_scopes($by, d.repo, d.service, $no_team)) AS scope
                   FROM deployment_outcomes d)
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
reported_changes AS (
    SELECT * FROM change_facts
    WHERE deployed_in_range OR (link = 'none' AND merged_at >= $start_ts AND merged_at < $end_ts)
),
scoped_changes AS (
    SELECT * FROM (SELECT c.*, unnest(cadence_scopes($by, c.repo, c.deployment_service, $no_team)) AS scope
                   FROM reported_changes c)
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
),
scoped_incidents AS (
    SELECT * FROM (SELECT i.*, unnest(cadence_scopes($by, i.repo, i.service, $no_team)) AS scope
                   FROM incident_attribution i WHERE in_range)
    WHERE scope IS NOT NULL AND ($scope IS NULL OR scope = $scope)
)
