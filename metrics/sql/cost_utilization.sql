-- Utilization per resource and day with the resource's cost that day and its team.
-- Definition: each utilization row of $metric with an average in the range, beside the summed
--   effective cost of the cost lines whose resource_id is that resource on that day.
-- Grain: one row per (resource, metric, date) in [$start_date, $end_date). Units: avg and p95 are
-- fractions 0..1 of capacity; capacity in vCPU (cpu) or GiB (memory); resource_cost in USD
-- (effective cost of cost lines whose resource_id is this resource; NULL when none).
-- Inputs: utilization, cost_lines; days outside the accepted range are left out (valid_first_day, valid_last_day).
resource_cost AS (
    SELECT resource_id, charge_date, sum(effective_cost) AS resource_cost
    FROM cost_lines WHERE resource_id <> '' GROUP BY ALL
)
SELECT u.date, u.resource, u.service, u.team, u.metric, u.avg, u.p95, u.capacity, rc.resource_cost
FROM utilization u
LEFT JOIN resource_cost rc ON rc.resource_id = u.resource AND rc.charge_date = u.date
WHERE u.date >= $start_date AND u.date < $end_date AND u.date BETWEEN $valid_first_day AND $valid_last_day
  AND u.metric = $metric AND u.avg IS NOT NULL
ORDER BY u.date, u.resource
