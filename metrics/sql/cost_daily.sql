-- Daily cost per scope: effective (amortized), billed and list cost of each day in the range.
-- Definition: the cost lines of the range summed per scope and day; scope by $by: team (allocated),
--   service, account (sub-account, else billing account), provider, region, category (FOCUS
--   ServiceCategory), tag (team-tag value, '' untagged), org ('all'). untagged_cost is the part
--   with no team-tag value, unallocated_cost the part no rule gives a team. $category (NULL: all)
--   keeps the lines of one service category (the compute cost of utilization_summary).
-- Grain: one row per (scope, charge_date) with any cost line. Units: USD.
-- Inputs: cost_lines; $by, $category.
daily_cost AS (
    SELECT CASE $by WHEN 'team' THEN alloc_team
                    WHEN 'service' THEN service_name
                    WHEN 'account' THEN coalesce(nullif(sub_account_id, ''), billing_account_id)
                    WHEN 'provider' THEN provider
                    WHEN 'region' THEN region
                    WHEN 'category' THEN coalesce(service_category, '')
                    WHEN 'tag' THEN allocation_tag
                    ELSE 'all' END AS scope,
           charge_date,
           sum(effective_cost) AS effective_cost,
           sum(billed_cost) AS billed_cost,
           sum(list_cost) AS list_cost,
           sum(CASE WHEN allocation_tag = '' THEN effective_cost ELSE 0 END) AS untagged_cost,
           sum(CASE WHEN alloc_team = 'unallocated' THEN effective_cost ELSE 0 END) AS unallocated_cost,
           bool_or(estimated) AS estimated
    FROM cost_lines
    WHERE $category IS NULL OR service_category = $category
    GROUP BY ALL
)
