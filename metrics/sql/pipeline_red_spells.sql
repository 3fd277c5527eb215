-- Red spells on the default branch (issue 18): each spell of the range with its hours (clipped to
--   the range and to now), the breaking commit and the fixing commit and run.
-- Grain: one row per (scope, repo, workflow, spell). Units: timestamps naive UTC, hours.
-- Inputs: pipeline_facts CTEs.
-- Definition: a red spell runs from the first failed default-branch run of a workflow to the next
--   passing one (or now), its hours clipped to the range.
SELECT scope, repo, workflow, red_from, red_until,
       epoch(clip_until - clip_from) / 3600.0 AS red_hours,
       broken_sha, fixing_sha, fixing_run_id, fixing_attempt
FROM pipe_red_scoped
ORDER BY red_hours DESC, scope, repo, workflow, red_from
