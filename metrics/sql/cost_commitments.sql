-- Commitment utilization and coverage per kind and day (Savings Plans, reservations).
-- Definition: per kind and day of the range, the mean over providers of the utilization and the
--   coverage fractions stored in commitments.
-- Grain: one row per (kind, date) in [$start_date, $end_date), providers together (mean).
-- Units: fractions 0..1. Inputs: commitments (days outside the accepted range left out: valid_first_day, valid_last_day).
SELECT kind, date, avg(utilization) AS utilization, avg(coverage) AS coverage
FROM commitments
WHERE date >= $start_date AND date < $end_date AND date BETWEEN $valid_first_day AND $valid_last_day
GROUP BY ALL
ORDER BY kind, date
