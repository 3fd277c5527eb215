-- The line items of a FOCUS 1.0 export (AWS Data Exports FOCUS_1_0_AWS) in the columns
-- athena_daily.sql sums: one row per line, keys as the local path forms them. Units: the billing
-- currency; line_effective is FOCUS EffectiveCost (amortized), line_billed BilledCost.
-- Inputs: the Data Exports FOCUS table (the table of [sources.aws.athena], partitioned by
-- billing_period, Tags a map); parameter tag_key (the team tag), bound by PyAthena.
-- Definition: each FOCUS line with its day, cost-line key (team-tag value from tag_key) and amounts.
SELECT
    CAST(ChargePeriodStart AS DATE) AS charge_date,
    ProviderName AS provider,
    coalesce(BillingAccountId, '') AS billing_account_id,
    coalesce(SubAccountId, '') AS sub_account_id,
    ServiceName AS service_name,
    coalesce(RegionId, '') AS region,
    coalesce(ResourceId, '') AS resource_id,
    coalesce(element_at(Tags, %(tag_key)s), '') AS allocation_tag,
    ServiceCategory AS line_category,
    BilledCost AS line_billed,
    EffectiveCost AS line_effective,
    ListCost AS line_list,
    ConsumedQuantity AS line_quantity,
    ConsumedUnit AS line_unit,
    BillingCurrency AS line_currency,
    billing_period
FROM {table}
