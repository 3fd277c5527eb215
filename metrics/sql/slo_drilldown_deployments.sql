-- Drill-down: the production deployments of each SLO's service inside its window, with the budget
--   remaining while each deployed.
-- Definition: as slo_deployment_budget.sql; exhausted marks the deployments counted by
--   deployments_into_exhausted_budget.
-- Grain: one row per (SLO, deployment). Units: timestamps UTC; events; fraction.
-- Inputs: slo_deployment_budget.
SELECT slo, deployment_id, repo, service, finished_at, good, total, budget_remaining, exhausted
FROM slo_deployment_budget
ORDER BY slo, finished_at, deployment_id
