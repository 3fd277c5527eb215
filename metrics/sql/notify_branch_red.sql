-- Default branch red (the default_branch_red alert of `cadence notify check`): per repository,
--   workflow and default branch whose latest finished run failed, since when it has been red.
-- Definition: runs are judged by conclusion: failure, timed_out and startup_failure are red, success
--   is green, anything else (cancelled, skipped, neutral) tells nothing. A workflow's branch is red
--   when its latest judged run (any attempt) is red; red since = the finish of the first red run
--   after its last green one (or its first run ever when it never went green).
-- Grain: one row per (repo, workflow, branch) that is red now. Units: UTC timestamps.
-- Inputs: pipeline_runs (CI pipelines, issue 18: repo, workflow, branch, conclusion, finished_at,
--   url), $branches (the default branch names), $at (now).
WITH judged AS (
    SELECT repo, workflow, branch, finished_at, url,
           CASE WHEN lower(conclusion) IN ('failure', 'timed_out', 'startup_failure') THEN 'red'
                WHEN lower(conclusion) = 'success' THEN 'green' END AS colour
    FROM pipeline_runs
    WHERE finished_at IS NOT NULL AND finished_at <= $at AND list_contains($branches, branch)
), latest AS (
    SELECT repo, workflow, branch, arg_max(colour, finished_at) AS colour, arg_max(url, finished_at) AS url,
           max(finished_at) AS last_finished_at
    FROM judged WHERE colour IS NOT NULL
    GROUP BY repo, workflow, branch
), last_green AS (
    SELECT repo, workflow, branch, max(finished_at) AS green_at
    FROM judged WHERE colour = 'green'
    GROUP BY repo, workflow, branch
), first_red AS (
    SELECT j.repo, j.workflow, j.branch, min(j.finished_at) AS red_since
    FROM judged j LEFT JOIN last_green g USING (repo, workflow, branch)
    WHERE j.colour = 'red' AND (g.green_at IS NULL OR j.finished_at > g.green_at)
    GROUP BY j.repo, j.workflow, j.branch
)
SELECT l.repo, l.workflow, l.branch, r.red_since, l.last_finished_at, l.url
FROM latest l JOIN first_red r USING (repo, workflow, branch)
WHERE l.colour = 'red'
ORDER BY l.repo, l.branch, l.workflow
