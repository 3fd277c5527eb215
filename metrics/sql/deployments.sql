-- Deployments: the successful production deployments (all time), and those of the requested range.
-- Definition: a deployment is a row of `deployments` with status "success" whose environment is one
--   of the configured production environments (case-insensitive) and that has a finished_at; its
--   time is finished_at. `start_key` (started_at, else finished_at) orders deployments for the
--   "first deployment at or after the merge" rule; `first_rank` numbers them all in the order
--   "first" means everywhere (start_key, then finished_at, then id), so the first of any set of
--   deployments is the one with the smallest first_rank (an integer is cheaper to carry and compare
--   than the three columns).
-- Grain: one row per deployment. Units: timestamps, naive UTC.
-- Inputs: valid_deployments; $prod_envs (lower-case list), $start_ts, $end_ts (range, end exclusive).
prod_deployments AS MATERIALIZED (
    SELECT id, repo, service, sha, started_at, finished_at, start_key,
           row_number() OVER (ORDER BY start_key, finished_at, id) AS first_rank
    FROM (SELECT id, repo, service, sha, started_at, finished_at,
                 coalesce(started_at, finished_at) AS start_key
          FROM valid_deployments
          WHERE lower(status) = 'success'
            AND list_contains(CAST($prod_envs AS VARCHAR[]), lower(environment))
            AND finished_at IS NOT NULL)
),
range_deployments AS (
    SELECT * FROM prod_deployments
    WHERE finished_at >= $start_ts AND finished_at < $end_ts
)
