-- Daily cost of one billing period of a FOCUS 1.0 export (AWS Data Exports FOCUS_1_0_AWS),
-- computed by Athena so that only the daily rows leave it. Grain: day (UTC) × provider × billing
-- account × sub-account × service × region × resource × team-tag value, the grain of Cadence's
-- `costs` and of the local path (collectors/aws_exports/local.py), column for column. Units: the
-- billing currency; effective_cost is FOCUS EffectiveCost (amortized), billed_cost BilledCost.
-- Inputs: the Data Exports FOCUS table (the table of [sources.aws.athena], partitioned by billing_period = 'YYYY-MM', Tags a
-- map); parameters billing_period and tag_key (the team tag), bound by PyAthena.
-- Written in the SQL subset Athena (Trino) and DuckDB share, so the same text is tested on DuckDB
-- (after sqlglot's transpilation) against the local path.
-- Definition: the FOCUS rows of the billing period summed per day and cost-line key, EffectiveCost as
--   effective cost, team-tag value from tag_key.
SELECT
    CAST(ChargePeriodStart AS DATE) AS charge_date,
    ProviderName AS provider,
    coalesce(BillingAccountId, '') AS billing_account_id,
    coalesce(SubAccountId, '') AS sub_account_id,
    ServiceName AS service_name,
    coalesce(RegionId, '') AS region,
    coalesce(ResourceId, '') AS resource_id,
    coalesce(element_at(Tags, %(tag_key)s), '') AS allocation_tag,
    max(ServiceCategory) AS service_category,
    sum(BilledCost) AS billed_cost,
    coalesce(sum(EffectiveCost), 0) AS effective_cost,
    sum(ListCost) AS list_cost,
    sum(ConsumedQuantity) AS consumed_quantity,
    CASE WHEN min(ConsumedUnit) = max(ConsumedUnit) THEN min(ConsumedUnit) END AS consumed_unit,
    min(BillingCurrency) AS min_currency,
    max(BillingCurrency) AS max_currency,
    count(*) AS lines
FROM {table}
WHERE billing_period = %(billing_period)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
