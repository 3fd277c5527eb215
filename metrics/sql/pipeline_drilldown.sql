-- Pipeline drill-down (issue 18): the attempts behind a figure, with links.
-- Grain: one row per (scope, attempt). Units: minutes; timestamps naive UTC.
-- Inputs: pipeline_facts CTEs.
-- Definition: every attempt of the range in the requested scope, with its verdict, durations,
--   minutes, cost and link.
SELECT p.scope, p.repo, p.workflow, p.id AS run_id, p.attempt, p.branch, p.sha, p.event,
       p.conclusion, p.verdict, p.on_default_branch, p.created_at, p.queued_at, p.started_at, p.finished_at,
       p.duration_minutes, coalesce(j.ci_minutes, 0) AS ci_minutes, coalesce(j.ci_cost, 0.0) AS ci_cost,
       coalesce(fl.flaky, false) AS flaky_sha, p.url
FROM pipe_scoped p
LEFT JOIN (SELECT scope, run_id, attempt, sum(ci_minutes) AS ci_minutes, sum(ci_minutes * usd_per_minute) AS ci_cost
           FROM pipe_jobs GROUP BY ALL) j ON j.scope = p.scope AND j.run_id = p.id AND j.attempt = p.attempt
LEFT JOIN (SELECT DISTINCT scope, repo, workflow, sha, flaky FROM pipe_flaky) fl
       ON fl.scope = p.scope AND fl.repo = p.repo AND fl.workflow = p.workflow AND fl.sha = p.sha
ORDER BY p.finished_at DESC NULLS FIRST, p.id, p.attempt
