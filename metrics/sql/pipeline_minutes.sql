-- CI minutes and cost by scope and runner OS (issue 18): jobs' whole minutes and their price.
-- Grain: one row per (scope, runner_os, self_hosted). Units: minutes, USD.
-- Inputs: pipeline_facts CTEs.
-- Definition: per scope and runner OS (self-hosted apart), the jobs' minutes each rounded up to a
--   whole minute, and those minutes times the runner's per-minute rate.
SELECT scope, runner_os, coalesce(self_hosted, false) AS self_hosted, count(*) AS jobs,
       sum(ci_minutes) AS ci_minutes, sum(ci_minutes * usd_per_minute) AS ci_cost
FROM pipe_jobs GROUP BY ALL
ORDER BY scope, ci_cost DESC, runner_os
