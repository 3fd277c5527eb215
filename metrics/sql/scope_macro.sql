-- Scope macro: cadence_scopes(by, repo, service, no_team), the list of scope values one fact row
--   (a deployment, a change or an incident) counts under, for scopes.sql.
-- Definition: by org ["all"]; by repo [repo]; by service [service] (a NULL or empty value is left
--   out by the caller); by team every team that owns the repo or the service in the configuration
--   (cadence_team_map), each once, else [no_team]: nothing is dropped.
-- Grain: one list per row. Units: scope names.
-- Inputs: cadence_team_map (team, kind, value), registered on the query's cursor.
CREATE OR REPLACE TEMP MACRO cadence_scopes(by_, repo_, service_, no_team_) AS
    CASE by_
        WHEN 'org' THEN ['all']
        WHEN 'repo' THEN [repo_]
        WHEN 'service' THEN [service_]
        ELSE coalesce((SELECT nullif(list(DISTINCT CAST(m.team AS VARCHAR) ORDER BY CAST(m.team AS VARCHAR)), [])
                       FROM cadence_team_map m
                       WHERE (m.kind = 'repo' AND m.value = repo_) OR (m.kind = 'service' AND m.value = service_)),
                      [no_team_])
    END
