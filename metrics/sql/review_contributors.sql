-- Review contributors: the authors of the changes merged in the range, per team, for the count of
--   active contributors (distinct human authors with at least one merged change).
-- Definition: a change merged in [$start_ts, $end_ts) counts for every team that owns its repo in
--   the configuration (cadence_team_map), else for $no_team; `is_bot` when its author matches
--   $bot_pattern in full, ignoring case. Changes without an author are left out (nobody to count).
-- Grain: one row per (team, change merged in the range). Units: times naive UTC.
-- Inputs: valid_changes, cadence_team_map; $start_ts, $end_ts, $bot_pattern, $no_team.
repo_owner AS (
    SELECT DISTINCT CAST(team AS VARCHAR) AS team, CAST(value AS VARCHAR) AS repo
    FROM cadence_team_map WHERE kind = 'repo'
),
merged AS (
    SELECT id AS change_id, repo, author, merged_at,
           coalesce(regexp_full_match(lower(author), CAST($bot_pattern AS VARCHAR)), false) AS is_bot
    FROM valid_changes
    WHERE merged_at >= $start_ts AND merged_at < $end_ts AND author IS NOT NULL AND author <> ''
)
SELECT coalesce(o.team, $no_team) AS team, m.change_id, m.author, m.merged_at, m.is_bot
FROM merged m
LEFT JOIN repo_owner o ON o.repo = m.repo
ORDER BY team, m.merged_at, m.change_id
