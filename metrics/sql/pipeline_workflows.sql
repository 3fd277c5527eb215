-- Per workflow (issue 18): attempts, success, flaky pairs, duration and minutes of each workflow in
--   the range, for the slowest and flakiest lists; scope as requested.
-- Grain: one row per (scope, repo, workflow). Units: fractions, minutes, USD.
-- Inputs: pipeline_facts CTEs.
-- Definition: per workflow of the range, its attempts, success rate, flaky pairs, median and p90
--   duration, minutes and cost.
pipe_wf_attempts AS (
    SELECT scope, repo, workflow, count(*) AS runs,
           count(*) FILTER (WHERE verdict = 'pass') AS passed, count(*) FILTER (WHERE verdict = 'fail') AS failed,
           quantile_cont(duration_minutes, 0.5) AS duration_p50_minutes,
           quantile_cont(duration_minutes, 0.9) AS duration_p90_minutes
    FROM pipe_scoped GROUP BY ALL
),
pipe_wf_flaky AS (
    SELECT scope, repo, workflow, count(*) AS failed_pairs, count(*) FILTER (WHERE flaky) AS flaky_pairs
    FROM pipe_flaky GROUP BY ALL
),
pipe_wf_jobs AS (
    SELECT scope, repo, workflow, sum(ci_minutes) AS ci_minutes, sum(ci_minutes * usd_per_minute) AS ci_cost
    FROM pipe_jobs GROUP BY ALL
)
SELECT a.scope, a.repo, a.workflow, a.runs,
       CASE WHEN a.passed + a.failed > 0 THEN a.passed / (a.passed + a.failed) END AS success_rate,
       CASE WHEN f.failed_pairs > 0 THEN f.flaky_pairs / f.failed_pairs END AS flaky_rate,
       coalesce(f.flaky_pairs, 0) AS flaky_pairs,
       a.duration_p50_minutes, a.duration_p90_minutes,
       coalesce(j.ci_minutes, 0) AS ci_minutes, coalesce(j.ci_cost, 0.0) AS ci_cost
FROM pipe_wf_attempts a
LEFT JOIN pipe_wf_flaky f USING (scope, repo, workflow)
LEFT JOIN pipe_wf_jobs j USING (scope, repo, workflow)
ORDER BY a.scope, a.repo, a.workflow
