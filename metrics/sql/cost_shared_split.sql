-- Shared cost split: the daily cost per scope with the "shared" team's cost spread over the
--   configured teams, day by day ([cost_allocation] shared_split).
-- Definition: even gives each of the N configured teams 1/N of the day's shared cost; proportional
--   gives each team its share of that day's direct cost (cost allocated to a configured team, a
--   team's negative day counted as 0) and splits a day with no direct cost evenly. Every money
--   column of the shared row is split by the same weight (a NULL list_cost stays NULL); the parts
--   carry no unallocated cost and the shared row's estimated flag, and the "shared" scope is gone.
--   Splitting never changes a day's total. By anything but team, with shared_split "none" or with
--   no teams configured, the rows pass unchanged.
-- Grain: one row per (scope, charge_date). Units: USD; weights are fractions 0..1.
-- Inputs: daily_cost; $by, $shared_split (none | even | proportional), $split_teams (the
--   configured teams), $shared_team ("shared").
split_teams AS (
    SELECT DISTINCT CAST(t AS VARCHAR) AS team FROM unnest(CAST($split_teams AS VARCHAR[])) AS u(t)
),
shared_daily AS (
    SELECT * FROM daily_cost
    WHERE scope = $shared_team AND $by = 'team' AND $shared_split <> 'none'
      AND EXISTS (SELECT 1 FROM split_teams)
),
-- Summed in team order (one fixed order of additions), as a reader checking by hand would.
direct_daily AS (
    SELECT d.charge_date, list_sum(list(greatest(d.effective_cost, 0) ORDER BY d.scope)) AS direct_total
    FROM daily_cost d JOIN split_teams t ON t.team = d.scope
    GROUP BY d.charge_date
),
shared_weights AS (
    SELECT s.charge_date, t.team,
           CASE WHEN $shared_split = 'proportional' AND coalesce(dd.direct_total, 0) > 0
                THEN greatest(coalesce(d.effective_cost, 0), 0) / dd.direct_total
                ELSE CAST(1 AS DOUBLE) / (SELECT count(*) FROM split_teams) END AS weight
    FROM shared_daily s
    CROSS JOIN split_teams t
    LEFT JOIN daily_cost d ON d.scope = t.team AND d.charge_date = s.charge_date
    LEFT JOIN direct_daily dd ON dd.charge_date = s.charge_date
),
split_rows AS (
    SELECT * FROM daily_cost
    WHERE scope IS DISTINCT FROM $shared_team OR NOT EXISTS (SELECT 1 FROM shared_daily)
    UNION ALL
    SELECT w.team, s.charge_date, s.effective_cost * w.weight, s.billed_cost * w.weight,
           s.list_cost * w.weight, s.untagged_cost * w.weight, CAST(0 AS DOUBLE), s.estimated
    FROM shared_daily s JOIN shared_weights w ON w.charge_date = s.charge_date
)
SELECT scope, charge_date,
       sum(effective_cost) AS effective_cost,
       sum(billed_cost) AS billed_cost,
       sum(list_cost) AS list_cost,
       sum(untagged_cost) AS untagged_cost,
       sum(unallocated_cost) AS unallocated_cost,
       bool_or(estimated) AS estimated
FROM split_rows
GROUP BY scope, charge_date
ORDER BY scope, charge_date
