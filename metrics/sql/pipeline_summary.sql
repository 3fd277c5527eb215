-- Pipeline summary (issue 18): per scope and period, the figures of `cadence pipelines`.
-- runs: attempts finished (or, unfinished, queued) in the period; success_rate: passing attempts /
--   attempts with a pass or fail verdict (cancelled, skipped, neutral, stale counted apart in
--   excluded_attempts); flaky_rate: flaky (workflow, sha) pairs / pairs with a failed attempt, by the
--   first failure's period; durations: p50/p90 of completed attempts; queue: p50 of jobs' queued ->
--   started; red hours: default-branch red spells clipped to the period; feedback: p50 of
--   pull-request runs by creation; ci_minutes: jobs' whole minutes; ci_cost: minutes x rate.
-- Grain: one row per (scope, period_start). Units: fractions 0..1, minutes, hours, USD.
-- Inputs: pipeline_facts CTEs.
-- Definition: per scope and period, the run, success, flaky, duration, queue, red-time, feedback,
--   minutes and cost figures listed above.
pipe_keys AS (
    SELECT scope, period_start FROM pipe_scoped
    UNION SELECT scope, period_start FROM pipe_flaky
    UNION SELECT scope, period_start FROM pipe_red_hours
    UNION SELECT scope, period_start FROM pipe_feedback
),
pipe_attempt_figures AS (
    SELECT scope, period_start, count(*) AS runs,
           count(*) FILTER (WHERE verdict = 'pass') AS passed_attempts,
           count(*) FILTER (WHERE verdict = 'fail') AS failed_attempts,
           count(*) FILTER (WHERE verdict = 'excluded') AS excluded_attempts,
           count(*) FILTER (WHERE verdict IS NULL) AS running_attempts,
           quantile_cont(duration_minutes, 0.5) AS duration_p50_minutes,
           quantile_cont(duration_minutes, 0.9) AS duration_p90_minutes
    FROM pipe_scoped GROUP BY scope, period_start
),
pipe_job_figures AS (
    SELECT scope, period_start, quantile_cont(queue_minutes, 0.5) AS queue_p50_minutes,
           sum(ci_minutes) AS ci_minutes, sum(ci_minutes * usd_per_minute) AS ci_cost
    FROM pipe_jobs GROUP BY scope, period_start
),
pipe_flaky_figures AS (
    SELECT scope, period_start, count(*) AS failed_pairs, count(*) FILTER (WHERE flaky) AS flaky_pairs
    FROM pipe_flaky GROUP BY scope, period_start
),
pipe_feedback_figures AS (
    SELECT scope, period_start, quantile_cont(feedback_minutes, 0.5) AS feedback_p50_minutes
    FROM pipe_feedback GROUP BY scope, period_start
)
SELECT k.scope, k.period_start,
       coalesce(a.runs, 0) AS runs,
       CASE WHEN coalesce(a.passed_attempts, 0) + coalesce(a.failed_attempts, 0) > 0
            THEN a.passed_attempts / (a.passed_attempts + a.failed_attempts) END AS success_rate,
       CASE WHEN f.failed_pairs > 0 THEN f.flaky_pairs / f.failed_pairs END AS flaky_rate,
       a.duration_p50_minutes, a.duration_p90_minutes,
       j.queue_p50_minutes,
       coalesce(r.red_hours, 0.0) AS red_hours_default_branch,
       fb.feedback_p50_minutes,
       coalesce(j.ci_minutes, 0) AS ci_minutes,
       coalesce(j.ci_cost, 0.0) AS ci_cost,
       coalesce(a.passed_attempts, 0) AS passed_attempts,
       coalesce(a.failed_attempts, 0) AS failed_attempts,
       coalesce(a.excluded_attempts, 0) AS excluded_attempts,
       coalesce(a.running_attempts, 0) AS running_attempts,
       coalesce(f.failed_pairs, 0) AS failed_pairs,
       coalesce(f.flaky_pairs, 0) AS flaky_pairs
FROM pipe_keys k
LEFT JOIN pipe_attempt_figures a USING (scope, period_start)
LEFT JOIN pipe_job_figures j USING (scope, period_start)
LEFT JOIN pipe_flaky_figures f USING (scope, period_start)
LEFT JOIN pipe_red_hours r USING (scope, period_start)
LEFT JOIN pipe_feedback_figures fb USING (scope, period_start)
ORDER BY k.scope, k.period_start
