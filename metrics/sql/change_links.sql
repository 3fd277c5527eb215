-- Change → deployment link, and each change's lead time and its four stages.
-- Definition: a merged change is shipped by (1) the first successful production deployment it is
--   explicitly linked to in deployment_changes, else (2) the first one of the same repo whose sha
--   equals the change's merge_sha, else (3) the first one of the same repo that started at or after
--   merged_at (finished_at when started_at is missing); "first" orders by start_key, finished_at, id.
--   lead = deployed − first commit (else opened, else merged); coding = opened − first commit;
--   pickup = first review − opened; review = merged − first review (no review: merged − opened);
--   deploy = deployed − merged. A negative span is unknown: NULL (its raw value stays in *_raw for
--   the data-health counts).
-- Grain: one row per candidate change: every change that could be shipped by a deployment of the
--   range (explicit link to one, same sha as one, or merged inside the merge window that the
--   inference rule maps onto one), plus, when $with_merged, every change merged in the range.
--   `deployed_in_range` marks the changes that belong to the range.
-- Units: hours (DOUBLE). Inputs: changes, deployment_changes, prod_deployments, range_deployments;
--   $start_ts, $end_ts, $with_merged, $rework_labels.
range_repo_starts AS (
    SELECT repo, min(start_key) AS first_start, max(start_key) AS last_start
    FROM range_deployments GROUP BY repo
),
-- Changes merged after `lower_start` (the start of the repo's latest deployment before its first one
-- in range) and at or before `last_start` are the only ones rule (3) can map onto a range deployment.
repo_merge_windows AS (
    SELECT r.repo, r.last_start, max(p.start_key) AS lower_start
    FROM range_repo_starts r
    LEFT JOIN prod_deployments p ON p.repo = r.repo AND p.start_key < r.first_start
    GROUP BY r.repo, r.last_start
),
candidate_ids AS (
    SELECT c.id FROM changes c JOIN repo_merge_windows w ON c.repo = w.repo
    WHERE c.merged_at <= w.last_start AND (w.lower_start IS NULL OR c.merged_at > w.lower_start)
    UNION
    SELECT dc.change_id FROM deployment_changes dc JOIN range_deployments d ON d.id = dc.deployment_id
    UNION
    SELECT c.id FROM changes c
    JOIN (SELECT DISTINCT repo, sha FROM range_deployments WHERE sha IS NOT NULL) s
      ON c.repo = s.repo AND c.merge_sha = s.sha
    UNION
    SELECT id FROM changes
    WHERE $with_merged AND merged_at >= $start_ts AND merged_at < $end_ts
),
candidate_changes AS (
    SELECT c.id, c.repo, c.title, c.labels, c.first_commit_at, c.opened_at, c.first_review_at,
           c.merged_at, c.merge_sha
    FROM changes c SEMI JOIN candidate_ids k ON k.id = c.id
    WHERE c.merged_at IS NOT NULL
),
explicit_links AS (
    SELECT dc.change_id,
           arg_min(p.id, {'k': p.start_key, 'f': p.finished_at, 'i': p.id}) AS deployment_id
    FROM deployment_changes dc
    JOIN candidate_changes c ON c.id = dc.change_id
    JOIN prod_deployments p ON p.id = dc.deployment_id
    GROUP BY dc.change_id
),
sha_links AS (
    SELECT c.id AS change_id,
           arg_min(p.id, {'k': p.start_key, 'f': p.finished_at, 'i': p.id}) AS deployment_id
    FROM candidate_changes c
    JOIN prod_deployments p ON p.repo = c.repo AND p.sha = c.merge_sha
    GROUP BY c.id
),
-- One deployment per (repo, start_key) so the ASOF join below has a single, defined answer.
inference_targets AS (
    SELECT repo, start_key, arg_min(id, {'f': finished_at, 'i': id}) AS id
    FROM prod_deployments
    WHERE start_key >= (SELECT min(merged_at) FROM candidate_changes)
    GROUP BY repo, start_key
),
inferred_links AS (
    SELECT c.id AS change_id, t.id AS deployment_id
    FROM candidate_changes c
    ASOF JOIN inference_targets t ON t.repo = c.repo AND t.start_key >= c.merged_at
),
linked_changes AS (
    SELECT c.*,
           coalesce(e.deployment_id, s.deployment_id, i.deployment_id) AS deployment_id,
           CASE WHEN e.deployment_id IS NOT NULL THEN 'explicit'
                WHEN s.deployment_id IS NOT NULL THEN 'sha'
                WHEN i.deployment_id IS NOT NULL THEN 'inferred'
                ELSE 'none' END AS link
    FROM candidate_changes c
    LEFT JOIN explicit_links e ON e.change_id = c.id
    LEFT JOIN sha_links s ON s.change_id = c.id
    LEFT JOIN inferred_links i ON i.change_id = c.id
),
change_spans AS (
    SELECT l.id AS change_id, l.repo, l.title, l.labels, l.merged_at, l.deployment_id, l.link,
           p.finished_at AS deployed_at, p.service AS deployment_service,
           coalesce(p.finished_at >= $start_ts AND p.finished_at < $end_ts, false) AS deployed_in_range,
           (epoch_us(p.finished_at) - epoch_us(coalesce(l.first_commit_at, l.opened_at, l.merged_at))) / 3.6e9 AS lead_raw,
           (epoch_us(l.opened_at) - epoch_us(l.first_commit_at)) / 3.6e9 AS coding_raw,
           (epoch_us(l.first_review_at) - epoch_us(l.opened_at)) / 3.6e9 AS pickup_raw,
           (epoch_us(l.merged_at) - epoch_us(coalesce(l.first_review_at, l.opened_at))) / 3.6e9 AS review_raw,
           (epoch_us(p.finished_at) - epoch_us(l.merged_at)) / 3.6e9 AS deploy_raw,
           (list_has_any(list_transform(coalesce(l.labels, []), lambda x: lower(x)),
                         CAST($rework_labels AS VARCHAR[]))
            OR coalesce(lower(l.title) LIKE 'revert%', false)) AS is_rework_change
    FROM linked_changes l
    LEFT JOIN prod_deployments p ON p.id = l.deployment_id
),
change_facts AS (
    SELECT *,
           CASE WHEN lead_raw >= 0 THEN lead_raw END AS lead_time_hours,
           CASE WHEN coding_raw >= 0 THEN coding_raw END AS coding_hours,
           CASE WHEN pickup_raw >= 0 THEN pickup_raw END AS pickup_hours,
           CASE WHEN review_raw >= 0 THEN review_raw END AS review_hours,
           CASE WHEN deploy_raw >= 0 THEN deploy_raw END AS deploy_hours
    FROM change_spans
)
