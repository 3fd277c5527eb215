-- Cost lines: the rows of `costs` charged in [$start_date, $end_date), each with its team.
-- Definition: a costs row counts when its day lies in the range and the accepted range, and is not
--   a Cost Explorer row of a provider-day an export (CUR/FOCUS) also holds; its team (alloc_team) is
--   the first rule that matches, as below.
-- Grain: one row per costs row (day × provider × account × service × region × resource × tag value).
-- Units: the row's currency (USD). Inputs: costs, cadence_cost_rules (the allocation rules of the
-- configuration, registered per query: kind tag/account/service, value, team).
-- Team: the team tag's value → an account rule → a service rule → 'unallocated' when the
-- configuration has rules ($use_rules), else the team stored when the row was written.
-- Days outside the accepted range ($valid_first_day..$valid_last_day, cadence.core.timerange) are left
-- out (only SQL written around Cadence stores one; Data health counts them).
-- A provider's day held both from Cost Explorer and from a CUR/FOCUS export is counted once:
-- the export (resource-level, final) wins over Cost Explorer.
cost_day_sources AS (
    SELECT charge_date, provider, bool_or(source IN ('aws-cur', 'focus')) AS has_export
    FROM costs
    WHERE charge_date >= $start_date AND charge_date < $end_date
      AND charge_date BETWEEN $valid_first_day AND $valid_last_day
    GROUP BY charge_date, provider
),
cost_lines AS (
    SELECT c.*,
           CASE WHEN $use_rules
                THEN coalesce(rt.team, ra.team, rb.team, rs.team, 'unallocated')
                ELSE c.team END AS alloc_team
    FROM costs c
    JOIN cost_day_sources s ON s.charge_date = c.charge_date AND s.provider = c.provider
    LEFT JOIN cadence_cost_rules rt
           ON rt.kind = 'tag' AND rt.value = c.allocation_tag AND c.allocation_tag <> ''
    LEFT JOIN cadence_cost_rules ra
           ON ra.kind = 'account' AND ra.value = c.sub_account_id AND c.sub_account_id <> ''
    LEFT JOIN cadence_cost_rules rb
           ON rb.kind = 'account' AND rb.value = c.billing_account_id AND c.billing_account_id <> ''
    LEFT JOIN cadence_cost_rules rs
           ON rs.kind = 'service' AND rs.value = c.service_name
    WHERE c.charge_date >= $start_date AND c.charge_date < $end_date
      AND NOT (s.has_export AND c.source = 'aws-cost-explorer')
)
