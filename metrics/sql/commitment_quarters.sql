-- Commitment utilization per quarter: the mean daily utilization of Savings Plans and
-- reservations (all kinds and providers together) over the days of each calendar quarter that
-- lie inside [$1, $2]. Grain: one row per quarter. Units: fraction 0..1. Inputs: commitments.
SELECT date_trunc('quarter', date)::DATE AS quarter_start,
       avg(utilization) AS utilization
FROM commitments
WHERE date BETWEEN ? AND ? AND utilization IS NOT NULL
GROUP BY 1
ORDER BY 1
