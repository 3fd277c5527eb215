-- Change → deployment link, and each change's lead time and its four stages.
-- Definition: a merged change is shipped by (1) the first successful production deployment it is
--   explicitly linked to in deployment_changes, else (2) the first one of the same repo whose sha
--   equals the change's merge_sha, else (3) the first one of the same repo that started at or after
--   merged_at (finished_at when started_at is missing); "first" orders by start_key, finished_at, id.
--   lead = deployed − first commit (else opened, else merged); coding = opened − first commit;
--   pickup = first review − opened; review = merged − first review (no review: merged − opened);
--   deploy = deployed − merged. A negative span is unknown: NULL (its raw value stays in *_raw for
--   the data-health counts). A change is rework when a label is one of $rework_labels or its title
--   starts with "revert" (both case-insensitive).
-- Grain: one row per candidate change: every merged change that could be shipped by a deployment
--   of the range (explicitly linked to one, same sha as one, or merged inside the window that rule
--   (3) maps onto one), plus, when $with_merged, every change merged in the range.
--   `deployed_in_range` marks the changes that belong to the range.
-- Units: hours (DOUBLE). Inputs: changes, deployment_changes, prod_deployments, range_deployments;
--   $start_ts, $end_ts, $with_merged, $rework_labels.
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
explicit_range_ids AS (
    SELECT DISTINCT dc.change_id AS id
    FROM deployment_changes dc JOIN range_deployments d ON d.id = dc.deployment_id
),
range_shas AS (
    SELECT DISTINCT repo, sha FROM range_deployments WHERE sha IS NOT NULL
),
candidate_changes AS MATERIALIZED (
    SELECT c.id, c.repo, c.merged_at, c.merge_sha, c.first_commit_at, c.opened_at, c.first_review_at,
           (len(list_filter(coalesce(c.labels, []),
                            lambda x: list_contains(CAST($rework_labels AS VARCHAR[]), lower(x)))) > 0
            OR coalesce(lower(c.title) LIKE 'revert%', false)) AS is_rework_change
    FROM changes c
    LEFT JOIN repo_merge_windows w ON w.repo = c.repo
    LEFT JOIN explicit_range_ids x ON x.id = c.id
    LEFT JOIN range_shas s ON s.repo = c.repo AND s.sha = c.merge_sha
    WHERE c.merged_at IS NOT NULL
      AND ((c.merged_at <= w.last_start AND (w.lower_start IS NULL OR c.merged_at > w.lower_start))
           OR x.id IS NOT NULL
           OR s.sha IS NOT NULL
           OR ($with_merged AND c.merged_at >= $start_ts AND c.merged_at < $end_ts))
),
-- Per change, its first explicitly linked successful production deployment.
explicit_first AS (
    SELECT dc.change_id,
           arg_min({'id': p.id, 'finished_at': p.finished_at, 'service': p.service},
                   {'k': p.start_key, 'f': p.finished_at, 'i': p.id}) AS target
    FROM deployment_changes dc
    JOIN prod_deployments p ON p.id = dc.deployment_id
    GROUP BY dc.change_id
),
-- Per repo and sha, the first successful production deployment that shipped it.
sha_first AS (
    SELECT repo, sha,
           arg_min({'id': id, 'finished_at': finished_at, 'service': service},
                   {'k': start_key, 'f': finished_at, 'i': id}) AS target
    FROM prod_deployments
    WHERE sha IS NOT NULL
    GROUP BY repo, sha
),
-- One deployment per (repo, start_key) so the ASOF join below has a single, defined answer.
inference_targets AS (
    SELECT repo, start_key,
           arg_min({'id': id, 'finished_at': finished_at, 'service': service}, {'f': finished_at, 'i': id}) AS target
    FROM prod_deployments
    WHERE start_key >= (SELECT min(merged_at) FROM candidate_changes)
    GROUP BY repo, start_key
),
linked_changes AS (
    SELECT c.*,
           coalesce(e.target, s.target, i.target) AS target,
           CASE WHEN e.target IS NOT NULL THEN 'explicit'
                WHEN s.target IS NOT NULL THEN 'sha'
                WHEN i.target IS NOT NULL THEN 'inferred'
                ELSE 'none' END AS link
    FROM candidate_changes c
    ASOF LEFT JOIN inference_targets i ON i.repo = c.repo AND i.start_key >= c.merged_at
    LEFT JOIN sha_first s ON s.repo = c.repo AND s.sha = c.merge_sha
    LEFT JOIN explicit_first e ON e.change_id = c.id
),
change_spans AS (
    SELECT id AS change_id, repo, merged_at, link, is_rework_change,
           target.id AS deployment_id, target.finished_at AS deployed_at,
           target.service AS deployment_service,
           coalesce(target.finished_at >= $start_ts AND target.finished_at < $end_ts, false) AS deployed_in_range,
           (epoch_us(target.finished_at) - epoch_us(coalesce(first_commit_at, opened_at, merged_at))) / 3.6e9 AS lead_raw,
           (epoch_us(opened_at) - epoch_us(first_commit_at)) / 3.6e9 AS coding_raw,
           (epoch_us(first_review_at) - epoch_us(opened_at)) / 3.6e9 AS pickup_raw,
           (epoch_us(merged_at) - epoch_us(coalesce(first_review_at, opened_at))) / 3.6e9 AS review_raw,
           (epoch_us(target.finished_at) - epoch_us(merged_at)) / 3.6e9 AS deploy_raw
    FROM linked_changes
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
