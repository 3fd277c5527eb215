-- SLO hours: the hourly SLI rows each declared SLO reads, as of $at_ts.
-- Definition: the SLOs come from cadence.toml [[slos]] (registered as cadence_slos: slo, service,
--   objective and budget_fraction = 1 - objective as fractions, window_days). An SLO reads the sli_hours rows of whole UTC hours h with
--   $at_ts - max(window, 3 days) <= h < $at_ts ($at_ts is the end of the last complete hour, or
--   DATE 24:00 for --at DATE). in_window marks the hours of its rolling window; in_1h, in_6h and
--   in_3d the hours of the burn-rate look-backs, which end at $at_ts too. bad = total - good. An
--   hour without a row is a gap and counts as neither good nor bad.
-- Grain: one row per (SLO, hour with a row). Units: events; hour = start of the UTC hour.
-- Inputs: sli_hours, cadence_slos; $at_ts.
slo_defs AS (
    SELECT slo, service, CAST(objective AS DOUBLE) AS objective,
           CAST(budget_fraction AS DOUBLE) AS budget_fraction, CAST(window_days AS INTEGER) AS window_days
    FROM cadence_slos
),
slo_hours AS (
    SELECT s.slo, h.hour, h.good, h.total, h.total - h.good AS bad,
           h.hour >= $at_ts - to_days(s.window_days) AS in_window,
           h.hour >= $at_ts - INTERVAL 1 HOUR AS in_1h,
           h.hour >= $at_ts - INTERVAL 6 HOUR AS in_6h,
           h.hour >= $at_ts - INTERVAL 72 HOUR AS in_3d
    FROM slo_defs s
    JOIN sli_hours h ON h.slo = s.slo
    WHERE h.hour < $at_ts AND h.hour >= $at_ts - to_days(greatest(s.window_days, 3))
)
