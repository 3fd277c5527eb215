-- Incident-based availability per service, for services without an SLI (and beside those with one).
-- Definition: over the period [$start_ts, $end_ts), the share of time during which no incident of
--   the service was open: 1 - incident_hours / period_hours, where incident_hours is the length of
--   the union of the incidents' open intervals [created_at, resolved_at) - an unresolved incident
--   is open to the period's end - clipped to the period (overlapping incidents count once).
--   incidents counts the incidents open at some time in the period. Services: every service named
--   by an incident, a successful production deployment or a team in cadence.toml ($services);
--   has_slo marks those with a declared SLO.
-- Grain: one row per service, by name. Units: hours; fraction; count.
-- Inputs: valid_incidents, valid_deployments (valid_rows.sql), cadence_slos; $start_ts, $end_ts, $prod_envs, $services.
availability_clipped AS (
    SELECT service, id,
           greatest(created_at, $start_ts) AS open_from,
           least(coalesce(resolved_at, $end_ts), $end_ts) AS open_to
    FROM valid_incidents
    WHERE service IS NOT NULL AND created_at < $end_ts
      AND coalesce(resolved_at, 'infinity'::TIMESTAMP) > $start_ts
),
availability_ordered AS (
    SELECT service, open_from, open_to,
           max(open_to) OVER (PARTITION BY service ORDER BY open_from, open_to
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_to
    FROM availability_clipped
    WHERE open_to > open_from
),
availability_islands AS (
    SELECT service, open_from, open_to,
           sum(CASE WHEN earlier_to IS NULL OR open_from > earlier_to THEN 1 ELSE 0 END)
               OVER (PARTITION BY service ORDER BY open_from, open_to ROWS UNBOUNDED PRECEDING) AS island
    FROM availability_ordered
),
availability_open AS (
    SELECT service, sum(epoch_us(island_to) - epoch_us(island_from)) / 3.6e9 AS incident_hours
    FROM (SELECT service, island, min(open_from) AS island_from, max(open_to) AS island_to
          FROM availability_islands GROUP BY service, island)
    GROUP BY service
),
availability_services AS (
    SELECT service FROM valid_incidents WHERE service IS NOT NULL
    UNION
    SELECT service FROM valid_deployments
    WHERE lower(status) = 'success' AND list_contains(CAST($prod_envs AS VARCHAR[]), lower(environment))
    UNION
    SELECT unnest(CAST($services AS VARCHAR[]))
)
SELECT s.service,
       s.service IN (SELECT service FROM cadence_slos) AS has_slo,
       (epoch_us($end_ts) - epoch_us($start_ts)) / 3.6e9 AS period_hours,
       (SELECT count(*) FROM availability_clipped c WHERE c.service = s.service) AS incidents,
       coalesce(o.incident_hours, 0) AS incident_hours,
       1 - coalesce(o.incident_hours, 0) / ((epoch_us($end_ts) - epoch_us($start_ts)) / 3.6e9) AS availability
FROM availability_services s
LEFT JOIN availability_open o ON o.service = s.service
ORDER BY s.service
