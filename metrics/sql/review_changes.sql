-- Review changes: every change shipped in the range, with what the capacity review classifies it by.
-- Definition: a change counts where change_links.sql ships it (deployed_in_range) and under the
--   scopes of scopes.sql (by team: the teams of its repo or of its deployment's service);
--   `during_open_incident` is true when the deployment that shipped it finished while an incident
--   of its service was open (deployment_outcomes.sql: the deployment is rework), `is_rework_change`
--   when it carries a rework label or a title starting with "revert", `is_bot` when its author
--   matches exclude_authors. The investment rules themselves run in metrics/capacity_review.py;
--   `labels_key` is the labels list as JSON text, one value per distinct list, so they classify each
--   distinct (labels, title prefix, flags) once instead of once per row.
-- Grain: one row per (scope, change shipped in the range). Units: hours; times naive UTC.
-- Inputs: scoped_changes, deployment_outcomes, valid_changes.
review_rows AS (
    SELECT c.scope, c.change_id, c.repo, c.deployment_id, c.deployed_at, c.merged_at, c.is_bot,
           c.is_rework_change, coalesce(d.during_open_incident, false) AS during_open_incident,
           c.coding_hours, c.lead_time_hours
    FROM scoped_changes c
    LEFT JOIN deployment_outcomes d ON d.deployment_id = c.deployment_id
    WHERE c.deployed_in_range
)
SELECT r.scope, r.change_id, r.repo, ch.number, ch.title, ch.author, ch.labels, to_json(ch.labels) AS labels_key, ch.url,
       r.merged_at, r.deployed_at, r.deployment_id, r.is_bot, r.is_rework_change, r.during_open_incident,
       r.coding_hours, r.lead_time_hours
FROM review_rows r
JOIN valid_changes ch ON ch.id = r.change_id
ORDER BY r.scope, r.deployed_at, r.change_id
