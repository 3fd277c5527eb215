-- Daily cost per scope: effective (amortized), billed and list cost of each day in the range.
-- Grain: one row per (scope, charge_date) with any cost line. Units: USD.
-- Scope by $by: team (allocated), service, account (sub-account, else billing account),
-- provider, region, category (FOCUS ServiceCategory), tag (team-tag value, '' untagged), org ('all').
-- Inputs: cost_lines. untagged_cost is the part with no team-tag value.
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
GROUP BY ALL
ORDER BY scope, charge_date
