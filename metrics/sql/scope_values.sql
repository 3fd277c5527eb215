-- Scope values: every repo and service that appears in the delivery tables, for the dashboard's
-- repo/service filter. Grain: one row per (kind, value). Units: none. Inputs: deployments,
-- changes, incidents (repo and service columns).
-- Definition: the distinct non-empty repo and service values held by the deployments, changes and
--   incidents tables.
SELECT DISTINCT 'repo' AS kind, repo AS value FROM deployments WHERE repo IS NOT NULL AND repo <> ''
UNION
SELECT DISTINCT 'repo', repo FROM changes WHERE repo IS NOT NULL AND repo <> ''
UNION
SELECT DISTINCT 'repo', repo FROM incidents WHERE repo IS NOT NULL AND repo <> ''
UNION
SELECT DISTINCT 'service', service FROM deployments WHERE service IS NOT NULL AND service <> ''
UNION
SELECT DISTINCT 'service', service FROM incidents WHERE service IS NOT NULL AND service <> ''
