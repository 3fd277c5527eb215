-- Review usage cost: each team's cost in the range split into what follows traffic and the rest,
--   for the next-quarter scenario (cost forecast × (1 + usage share × traffic growth)).
-- Definition: a cost line is usage-driven when its FOCUS service category is one of
--   $usage_categories or its service is one of $usage_services (cadence.toml [capacity]); team as
--   allocated by cost_lines (the "shared" scope stays its own; its share applies to the split).
-- Grain: one row per allocated team. Units: USD (effective, amortized cost).
-- Inputs: cost_lines; $usage_categories, $usage_services.
SELECT alloc_team AS scope,
       sum(effective_cost) AS effective_cost,
       sum(effective_cost) FILTER (WHERE list_contains(CAST($usage_categories AS VARCHAR[]), coalesce(service_category, ''))
                                   OR list_contains(CAST($usage_services AS VARCHAR[]), coalesce(service_name, '')))
           AS usage_cost
FROM cost_lines
GROUP BY ALL
ORDER BY scope
