-- Change → deployment link, and each change's lead time and its four stages.
-- Definition: a merged change is shipped by (1) the first successful production deployment it is
--   explicitly linked to in deployment_changes, else (2) the first one of the same repo whose sha
--   equals the change's merge_sha, else (3) the first one of the same repo that started at or after
--   merged_at (finished_at when started_at is missing); "first" orders by start_key, finished_at, id
--   (prod_deployments.first_rank). lead = deployed − first commit (else opened, else merged);
--   coding = opened − first commit; pickup = first review − opened; review = merged − first review
--   (no review: merged − opened); deploy = deployed − merged. A negative span is unknown: NULL (its
--   raw value stays in *_raw for the data-health counts). A change is rework when a label is one of
--   $rework_labels or its title starts with "revert" (both case-insensitive). A change is a bot's
--   (`is_bot`) when its author matches $bot_pattern in full, ignoring case (the exclude_authors globs
--   as one regular expression; NULL: nobody is a bot): bots are left out of lead time.
-- Grain: one row per candidate change: every merged change that could be shipped by a deployment
--   of the range (explicitly linked to one, same sha as one, or merged inside the window that rule
--   (3) maps onto one), plus, when $with_merged, every change merged in the range.
--   `deployed_in_range` marks the changes that belong to the range; the deployment columns
--   (deployment_id, deployed_at, deployment_service, lead and deploy spans) are filled for those
--   only (a change shipped outside the range counts nowhere; only its `link` is used).
-- How it stays cheap on large warehouses: the `changes` scan is bounded by merge time before any
--   join (only the repos' merge windows, and the range itself when $with_merged, can hold changes
--   that rule (3) maps onto a deployment that matters); changes outside those bounds are looked up
--   only by an explicit link or merge sha of a range deployment; rule (3) searches only the
--   deployments that can be the answer for a change in those bounds; deployments are carried as
--   integer ranks and their columns looked up once, among the range's deployments.
-- Units: hours (DOUBLE). Inputs: valid_changes, deployment_changes, prod_deployments, range_deployments;
--   $start_ts, $end_ts, $with_merged, $rework_labels, $bot_pattern.
range_repo_starts AS (
    SELECT repo, min(start_key) AS first_start, max(start_key) AS last_start
    FROM range_deployments GROUP BY repo
),
-- Rule (3) can map onto a range deployment only the changes merged after `lower_start` (the start
-- of the repo's latest deployment before its first one in range) and at or before `last_start`.
repo_merge_windows AS (
    SELECT r.repo, r.last_start, max(p.start_key) AS lower_start
    FROM range_repo_starts r
    LEFT JOIN prod_deployments p ON p.repo = r.repo AND p.start_key < r.first_start
    GROUP BY r.repo, r.last_start
),
-- One interval around every repo's merge window and, when $with_merged, the range: the scan of
-- `changes` below keeps only merges inside it before any join.
window_bounds AS (
    SELECT CASE WHEN $with_merged THEN least(lo, CAST($start_ts AS TIMESTAMP)) ELSE lo END AS lo,
           CASE WHEN $with_merged THEN greatest(hi, CAST($end_ts AS TIMESTAMP)) ELSE hi END AS hi
    FROM (SELECT coalesce(min(coalesce(lower_start, '-infinity'::TIMESTAMP)), 'infinity'::TIMESTAMP) AS lo,
                 coalesce(max(last_start), '-infinity'::TIMESTAMP) AS hi
          FROM repo_merge_windows)
),
explicit_range_ids AS (
    SELECT DISTINCT dc.change_id AS id
    FROM deployment_changes dc JOIN range_deployments d ON d.id = dc.deployment_id
),
range_shas AS (
    SELECT DISTINCT repo, sha FROM range_deployments WHERE sha IS NOT NULL
),
-- Changes that an explicit link or their merge sha ties to a range deployment.
tied_ids AS (
    SELECT c.id FROM valid_changes c
    JOIN range_shas s ON s.repo = c.repo AND s.sha = c.merge_sha
    WHERE c.merged_at IS NOT NULL
    UNION
    SELECT id FROM explicit_range_ids
),
-- Small integer keys for the repos the rule (3) look-up below can concern (those with a merge window
-- and, when $with_merged, those with a deployment that started in or after the range), with their
-- merge windows: integers are cheaper to hash than text.
repo_keys AS (
    SELECT k.repo, row_number() OVER (ORDER BY k.repo) AS repo_no, w.last_start, w.lower_start
    FROM (SELECT repo FROM repo_merge_windows
          UNION
          SELECT DISTINCT repo FROM prod_deployments WHERE $with_merged AND start_key >= $start_ts) k
    LEFT JOIN repo_merge_windows w ON w.repo = k.repo
),
-- The changes that can matter: merged inside the bounds, or tied to a range deployment; with a
-- change's own columns (the spans that do not depend on the deployment, and the rework flag) and
-- `in_window`: merged inside its repo's merge window (or, when $with_merged, in the range), so
-- that rule (3) can map it onto a deployment that matters.
linkable_changes AS MATERIALIZED (
    SELECT c.id, c.repo, c.merged_at, c.merge_sha, c.in_bounds, k.repo_no,
           coalesce(c.merged_at <= k.last_start AND (k.lower_start IS NULL OR c.merged_at > k.lower_start), false)
           OR ($with_merged AND c.merged_at >= $start_ts AND c.merged_at < $end_ts) AS in_window,
           coalesce(c.first_commit_at, c.opened_at, c.merged_at) AS lead_from,
           (epoch_us(c.opened_at) - epoch_us(c.first_commit_at)) / 3.6e9 AS coding_raw,
           (epoch_us(c.first_review_at) - epoch_us(c.opened_at)) / 3.6e9 AS pickup_raw,
           (epoch_us(c.merged_at) - epoch_us(coalesce(c.first_review_at, c.opened_at))) / 3.6e9 AS review_raw,
           (len(list_filter(coalesce(c.labels, []),
                            lambda x: list_contains(CAST($rework_labels AS VARCHAR[]), lower(x)))) > 0
            OR coalesce(lower(c.title) LIKE 'revert%', false)) AS is_rework_change,
           coalesce(regexp_full_match(lower(c.author), CAST($bot_pattern AS VARCHAR)), false) AS is_bot
    FROM (SELECT c.*, true AS in_bounds FROM valid_changes c
          JOIN window_bounds b ON c.merged_at >= b.lo AND c.merged_at <= b.hi
          UNION ALL
          SELECT t.*, false FROM (SELECT * FROM valid_changes c SEMI JOIN tied_ids i ON i.id = c.id) t, window_bounds b
          WHERE t.merged_at < b.lo OR t.merged_at > b.hi) c
    LEFT JOIN repo_keys k ON k.repo = c.repo
),
window_changes AS (
    SELECT * FROM linkable_changes WHERE in_window
),
-- Rule (3)'s possible answers for those: per repo, the deployments that started inside its merge
-- window (the answer for a change merged in it starts at or before `last_start`) and, when
-- $with_merged, every one that started in or after the range; one per (repo, start_key), the first.
-- Each covers the merges after the previous one's start up to its own start (the repo's first one:
-- every earlier merge).
inference_targets AS (
    SELECT repo_no, start_key, first_rank,
           lag(start_key) OVER (PARTITION BY repo_no ORDER BY start_key) AS prev_start
    FROM (SELECT k.repo_no, p.start_key, min(p.first_rank) AS first_rank
          FROM prod_deployments p
          JOIN repo_keys k ON k.repo = p.repo
          WHERE (p.start_key <= k.last_start AND (k.lower_start IS NULL OR p.start_key > k.lower_start))
             OR ($with_merged AND p.start_key >= $start_ts)
          GROUP BY k.repo_no, p.start_key)
),
repo_first_merges AS (
    SELECT repo_no, min(merged_at) AS first_merge FROM window_changes GROUP BY repo_no
),
-- The same intervals, one row per UTC day they touch (days as integers since 1970), so that a change
-- finds its interval by an equality join on (repo, day) and a range check, without sorting the
-- changes.
inference_days AS (
    SELECT t.repo_no, t.start_key, t.prev_start, t.first_rank,
           unnest(range(epoch_us(coalesce(t.prev_start, least(m.first_merge, t.start_key))) // 86400000000,
                        epoch_us(t.start_key) // 86400000000 + 1)) AS day_no
    FROM inference_targets t
    JOIN repo_first_merges m ON m.repo_no = t.repo_no
),
inferred_changes AS (
    SELECT c.*, i.first_rank AS inferred_rank
    FROM window_changes c
    LEFT JOIN inference_days i
      ON i.repo_no = c.repo_no AND i.day_no = epoch_us(c.merged_at) // 86400000000
     AND c.merged_at <= i.start_key AND (i.prev_start IS NULL OR c.merged_at > i.prev_start)
),
-- The other tied changes. Rules (1) and (2) come before (3), so their rule (3) answer never matters.
tied_changes AS (
    SELECT c.*, NULL::BIGINT AS inferred_rank
    FROM linkable_changes c
    WHERE NOT c.in_window AND (NOT c.in_bounds OR c.id IN (SELECT id FROM tied_ids))
),
candidate_changes AS (
    SELECT * FROM inferred_changes
    UNION ALL
    SELECT * FROM tied_changes
),
-- Per change, its first explicitly linked successful production deployment.
explicit_first AS (
    SELECT dc.change_id, min(p.first_rank) AS first_rank
    FROM deployment_changes dc
    JOIN prod_deployments p ON p.id = dc.deployment_id
    GROUP BY dc.change_id
),
-- Per repo and sha, the first successful production deployment that shipped it.
sha_first AS (
    SELECT repo, sha, min(first_rank) AS first_rank
    FROM prod_deployments
    WHERE sha IS NOT NULL
    GROUP BY repo, sha
),
linked_changes AS (
    SELECT c.*,
           CASE WHEN e.first_rank IS NOT NULL THEN 'explicit'
                WHEN s.first_rank IS NOT NULL THEN 'sha'
                WHEN c.inferred_rank IS NOT NULL THEN 'inferred'
                ELSE 'none' END AS link,
           coalesce(e.first_rank, s.first_rank, c.inferred_rank) AS target_rank
    FROM candidate_changes c
    LEFT JOIN sha_first s ON s.repo = c.repo AND s.sha = c.merge_sha
    LEFT JOIN explicit_first e ON e.change_id = c.id
),
-- The shipping deployment's columns, looked up among the range's deployments only.
change_spans AS (
    SELECT c.id AS change_id, c.repo, c.merged_at, c.link, c.is_rework_change, c.is_bot,
           d.id AS deployment_id, d.finished_at AS deployed_at, d.service AS deployment_service,
           d.id IS NOT NULL AS deployed_in_range,
           (epoch_us(d.finished_at) - epoch_us(c.lead_from)) / 3.6e9 AS lead_raw,
           c.coding_raw, c.pickup_raw, c.review_raw,
           (epoch_us(d.finished_at) - epoch_us(c.merged_at)) / 3.6e9 AS deploy_raw
    FROM linked_changes c
    LEFT JOIN range_deployments d ON d.first_rank = c.target_rank
),
change_facts AS MATERIALIZED (
    SELECT *,
           CASE WHEN lead_raw >= 0 THEN lead_raw END AS lead_time_hours,
           CASE WHEN coding_raw >= 0 THEN coding_raw END AS coding_hours,
           CASE WHEN pickup_raw >= 0 THEN pickup_raw END AS pickup_hours,
           CASE WHEN review_raw >= 0 THEN review_raw END AS review_hours,
           CASE WHEN deploy_raw >= 0 THEN deploy_raw END AS deploy_hours
    FROM change_spans
)
