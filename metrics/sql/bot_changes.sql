-- Bot changes: how many changes shipped in the range are bots' (author matching exclude_authors),
--   the figure pages show as "bot changes: N, excluded" beside lead time.
-- Definition: change_links.sql's is_bot over the changes deployed in the range, in the requested
--   scopes (a change counts once per scope, as everywhere).
-- Grain: one row. Units: count.
-- Inputs: scoped_changes.
bot_rows AS (SELECT * FROM scoped_changes WHERE deployed_in_range AND is_bot)
SELECT count(*) AS bot_changes FROM bot_rows
