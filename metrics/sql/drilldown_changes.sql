-- Drill-down: the changes behind changes_deployed and the lead-time figures, plus the changes merged
--   in the range that no deployment has shipped yet (link "none").
-- Definition: as change_links.sql; `link` says which rule found the deployment (explicit / sha /
--   inferred / none); spans are NULL when unknown (negative) or not applicable.
-- Grain: one row per (scope, change). Units: hours.
-- Inputs: scoped_changes.
change_rows AS (SELECT * FROM scoped_changes)
SELECT scope, change_id, repo, deployment_id, link, lead_time_hours, coding_hours, pickup_hours,
       review_hours, deploy_hours
FROM change_rows
ORDER BY scope, deployed_at NULLS LAST, merged_at, change_id
