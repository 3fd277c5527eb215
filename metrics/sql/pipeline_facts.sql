-- Pipeline facts (issue 18): every run attempt and job of the range with its scope, and the facts
--   the pipeline figures are made of. Definitions in docs/metrics.md ("CI pipelines").
-- An attempt's time is its finish (its queue time while unfinished); it counts in the range and the
--   period holding that time. Duration: started_at -> finished_at of an attempt that passed or failed. Verdict:
--   'pass' (success), 'fail' (failure, timed_out, startup_failure, action_required), 'excluded'
--   (cancelled, skipped, neutral, stale: counted apart), NULL while running.
-- A repo's default branch is the one its collector reported (sync_state details.default_branch of
--   scope = repo, any source), else any of $default_branches (default main, master).
-- Scope: by org "all"; by repo the repo; by workflow "repo: workflow"; by team each team owning the
--   repo ($no_team when none). $scope keeps one value.
-- Grain: one row per (attempt, scope) in pipe_scoped; one per (job, scope) in pipe_jobs.
-- Units: timestamps naive UTC; minutes; USD.
-- Inputs: pipeline_runs, pipeline_jobs, sync_state, cadence_team_map, cadence_runner_rates (kind
--   'label' | 'os' | 'self_hosted', name, usd_per_minute); $start_ts, $end_ts, $by, $scope, $no_team,
--   $period, $default_branches, $valid_from, $valid_until.
-- Definition: the attempts and jobs whose time (finish, or queue time while unfinished) lies in
--   the range, each with its verdict, durations, whole minutes and price, once per scope it counts
--   for.
pipe_team_map AS (
    SELECT DISTINCT CAST(team AS VARCHAR) AS team, CAST(value AS VARCHAR) AS repo
    FROM cadence_team_map WHERE kind = 'repo'
),
pipe_default_branch AS (
    SELECT scope AS repo, any_value(json_extract_string(details, '$.default_branch')) AS branch
    FROM sync_state
    WHERE details IS NOT NULL AND json_valid(details)
      AND json_extract_string(details, '$.default_branch') IS NOT NULL
    GROUP BY scope
),
pipe_all_attempts AS (
    SELECT r.id, r.attempt, r.repo, r.workflow, r.branch, r.sha, r.event, r.status, r.conclusion,
           r.created_at, r.queued_at, r.started_at, r.finished_at, r.url,
           coalesce(r.finished_at, r.started_at, r.queued_at, r.created_at) AS event_at,
           CASE WHEN r.conclusion IS NULL THEN NULL
                WHEN lower(r.conclusion) = 'success' THEN 'pass'
                WHEN lower(r.conclusion) IN ('failure', 'timed_out', 'startup_failure', 'action_required') THEN 'fail'
                ELSE 'excluded' END AS verdict,
           CASE WHEN d.branch IS NOT NULL THEN r.branch = d.branch
                ELSE list_contains(CAST($default_branches AS VARCHAR[]), r.branch) END AS on_default_branch
    FROM pipeline_runs r LEFT JOIN pipe_default_branch d ON d.repo = r.repo
    WHERE coalesce(r.finished_at, r.started_at, r.queued_at, r.created_at) BETWEEN $valid_from AND $valid_until
),
pipe_attempts AS (
    SELECT *,
           CASE WHEN verdict IN ('pass', 'fail') AND started_at IS NOT NULL AND finished_at >= started_at
                THEN epoch(finished_at - started_at) / 60.0 END AS duration_minutes,
           CASE $period WHEN 'week' THEN CAST(date_trunc('week', event_at) AS DATE)
                        WHEN 'month' THEN CAST(date_trunc('month', event_at) AS DATE)
                        ELSE CAST($start_ts AS DATE) END AS period_start
    FROM pipe_all_attempts
    WHERE event_at >= $start_ts AND event_at < $end_ts
),
pipe_scopes AS (
    SELECT DISTINCT a.repo, a.workflow, s.scope FROM (SELECT DISTINCT repo, workflow FROM pipe_all_attempts) a,
    LATERAL (
        SELECT CASE $by WHEN 'org' THEN 'all' WHEN 'repo' THEN a.repo
                        WHEN 'workflow' THEN a.repo || ': ' || a.workflow END AS scope
        WHERE $by <> 'team'
        UNION ALL
        SELECT t.team FROM pipe_team_map t WHERE t.repo = a.repo AND $by = 'team'
        UNION ALL
        SELECT $no_team WHERE $by = 'team' AND NOT EXISTS (SELECT 1 FROM pipe_team_map t WHERE t.repo = a.repo)
    ) s
    WHERE s.scope IS NOT NULL AND ($scope IS NULL OR s.scope = $scope)
),
pipe_scoped AS (
    SELECT s.scope, a.* FROM pipe_attempts a JOIN pipe_scopes s ON s.repo = a.repo AND s.workflow = a.workflow
),
pipe_rates AS (
    SELECT CAST(kind AS VARCHAR) AS kind, CAST(name AS VARCHAR) AS name, CAST(usd_per_minute AS DOUBLE) AS rate
    FROM cadence_runner_rates
),
pipe_jobs AS (
    SELECT a.scope, a.period_start, a.repo, a.workflow, a.id AS run_id, a.attempt, j.name,
           coalesce(lower(j.runner_os), 'linux') AS runner_os, j.runner_labels, j.self_hosted,
           j.queued_at, j.started_at, j.finished_at, j.conclusion, coalesce(j.url, a.url) AS url,
           CASE WHEN j.started_at IS NOT NULL AND j.queued_at IS NOT NULL AND j.started_at >= j.queued_at
                THEN epoch(j.started_at - j.queued_at) / 60.0 END AS queue_minutes,
           -- GitHub bills each job's run time rounded up to the whole minute.
           CASE WHEN j.started_at IS NOT NULL AND j.finished_at IS NOT NULL AND j.finished_at >= j.started_at
                THEN ceil(epoch(j.finished_at - j.started_at) / 60.0) ELSE 0 END AS ci_minutes,
           coalesce(
               (SELECT max(r.rate) FROM pipe_rates r
                WHERE r.kind = 'label' AND list_contains(coalesce(j.runner_labels, []), r.name)),
               CASE WHEN j.self_hosted THEN (SELECT max(rate) FROM pipe_rates WHERE kind = 'self_hosted')
                    ELSE (SELECT max(rate) FROM pipe_rates WHERE kind = 'os'
                          AND name = coalesce(lower(j.runner_os), 'linux')) END,
               0.0) AS usd_per_minute
    FROM pipe_scoped a JOIN pipeline_jobs j ON j.run_id = a.id AND j.attempt = a.attempt
),
-- Flaky: a (repo, workflow, sha) with a failed attempt that a later attempt on the same sha passed.
pipe_sha_outcomes AS (
    SELECT repo, workflow, sha,
           min(finished_at) FILTER (WHERE verdict = 'fail') AS first_fail_at,
           max(finished_at) FILTER (WHERE verdict = 'pass') AS last_pass_at
    FROM pipe_all_attempts
    WHERE sha IS NOT NULL AND verdict IN ('pass', 'fail') AND finished_at IS NOT NULL
    GROUP BY repo, workflow, sha
),
pipe_flaky AS (
    SELECT s.scope, o.repo, o.workflow, o.sha, o.first_fail_at,
           coalesce(o.last_pass_at > o.first_fail_at, false) AS flaky,
           CASE $period WHEN 'week' THEN CAST(date_trunc('week', o.first_fail_at) AS DATE)
                        WHEN 'month' THEN CAST(date_trunc('month', o.first_fail_at) AS DATE)
                        ELSE CAST($start_ts AS DATE) END AS period_start
    FROM pipe_sha_outcomes o JOIN pipe_scopes s ON s.repo = o.repo AND s.workflow = o.workflow
    WHERE o.first_fail_at >= $start_ts AND o.first_fail_at < $end_ts
),
-- Red spells: per (repo, workflow) on the default branch, a failed attempt after a pass (or the first
-- verdict) opens a spell; the next passing attempt's finish closes it.
pipe_default_verdicts AS (
    SELECT repo, workflow, id, attempt, sha, verdict, finished_at,
           lag(verdict) OVER w AS previous_verdict,
           sum(CASE WHEN verdict = 'pass' THEN 1 ELSE 0 END) OVER w AS passes_before_incl
    FROM pipe_all_attempts
    WHERE on_default_branch AND verdict IN ('pass', 'fail') AND finished_at IS NOT NULL
    WINDOW w AS (PARTITION BY repo, workflow ORDER BY finished_at, id, attempt)
),
pipe_red_spells AS (
    SELECT f.repo, f.workflow, f.finished_at AS red_from, f.sha AS broken_sha,
           p.finished_at AS red_until, p.sha AS fixing_sha, p.id AS fixing_run_id, p.attempt AS fixing_attempt
    FROM pipe_default_verdicts f
    LEFT JOIN LATERAL (
        SELECT n.finished_at, n.sha, n.id, n.attempt FROM pipe_default_verdicts n
        WHERE n.repo = f.repo AND n.workflow = f.workflow AND n.verdict = 'pass'
          AND n.passes_before_incl = f.passes_before_incl + 1
    ) p ON true
    WHERE f.verdict = 'fail' AND coalesce(f.previous_verdict, 'pass') = 'pass'
),
pipe_red_scoped AS (
    SELECT s.scope, r.*,
           greatest(r.red_from, CAST($start_ts AS TIMESTAMP)) AS clip_from,
           least(coalesce(r.red_until, CAST($now_ts AS TIMESTAMP)), CAST($end_ts AS TIMESTAMP),
                 CAST($now_ts AS TIMESTAMP)) AS clip_until
    FROM pipe_red_spells r JOIN pipe_scopes s ON s.repo = r.repo AND s.workflow = r.workflow
    WHERE r.red_from < $end_ts AND coalesce(r.red_until, CAST($now_ts AS TIMESTAMP)) > $start_ts
),
pipe_periods AS (
    SELECT CAST(p AS TIMESTAMP) AS period_from,
           CAST(CASE $period WHEN 'week' THEN p + INTERVAL 7 DAY WHEN 'month' THEN p + INTERVAL 1 MONTH
                ELSE CAST($end_ts AS TIMESTAMP) END AS TIMESTAMP) AS period_until
    FROM (SELECT unnest(CASE $period
            WHEN 'week' THEN generate_series(date_trunc('week', CAST($start_ts AS TIMESTAMP)),
                                             CAST($end_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND, INTERVAL 7 DAY)
            WHEN 'month' THEN generate_series(date_trunc('month', CAST($start_ts AS TIMESTAMP)),
                                              CAST($end_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND, INTERVAL 1 MONTH)
            ELSE [CAST($start_ts AS TIMESTAMP)] END) AS p)
),
pipe_red_hours AS (
    SELECT r.scope, CAST(p.period_from AS DATE) AS period_start,
           sum(epoch(least(r.clip_until, p.period_until) - greatest(r.clip_from, p.period_from)) / 3600.0) AS red_hours
    FROM pipe_red_scoped r JOIN pipe_periods p
      ON r.clip_from < p.period_until AND r.clip_until > p.period_from
    GROUP BY ALL
),
-- Time to feedback: a pull-request run's creation (the head commit's push) to the finish of its
-- first attempt that passed or failed (a cancelled attempt told the developer nothing).
pipe_feedback AS (
    SELECT scope, period_start, id,
           epoch(min(finished_at) - any_value(created_at)) / 60.0 AS feedback_minutes
    FROM (SELECT s.scope, a.id, a.created_at, a.finished_at,
                 CASE $period WHEN 'week' THEN CAST(date_trunc('week', a.created_at) AS DATE)
                              WHEN 'month' THEN CAST(date_trunc('month', a.created_at) AS DATE)
                              ELSE CAST($start_ts AS DATE) END AS period_start
          FROM pipe_all_attempts a JOIN pipe_scopes s ON s.repo = a.repo AND s.workflow = a.workflow
          WHERE a.event IN ('pull_request', 'pull_request_target', 'merge_request')
            AND a.verdict IN ('pass', 'fail') AND a.finished_at IS NOT NULL AND a.created_at IS NOT NULL
            AND a.created_at >= $start_ts AND a.created_at < $end_ts)
    GROUP BY scope, period_start, id
    HAVING min(finished_at) >= any_value(created_at)
)
