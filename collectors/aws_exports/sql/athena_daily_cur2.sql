-- Daily cost of one billing period of an AWS CUR 2.0 export, computed by Athena so that only the
-- daily rows leave it. Grain: day (UTC) × payer account × usage account × service × region ×
-- resource × team-tag value, the grain of Cadence's `costs` and of the local path
-- (collectors/aws_exports/local.py), column for column. Units: the billing currency.
-- effective_cost is amortized as AWS defines it (Savings Plans and reservations spread over the
-- usage they cover; the same CASE as the local path). service_category carries the product code,
-- which Cadence maps to a FOCUS category afterwards.
-- Inputs: the Data Exports CUR 2.0 table (the table of [sources.aws.athena], partitioned by billing_period = 'YYYY-MM');
-- parameters billing_period and tag_key (user_<team tag>), bound by PyAthena.
-- Written in the SQL subset Athena (Trino) and DuckDB share, so the same text is tested on DuckDB
-- (after sqlglot's transpilation) against the local path.
-- Definition: the CUR 2.0 line items of the billing period summed per day and cost-line key,
--   effective cost amortized as AWS does, team-tag value from tag_key.
SELECT
    CAST(line_item_usage_start_date AS DATE) AS charge_date,
    'AWS' AS provider,
    coalesce(bill_payer_account_id, '') AS billing_account_id,
    coalesce(line_item_usage_account_id, '') AS sub_account_id,
    coalesce(element_at(product, 'product_name'), line_item_product_code) AS service_name,
    coalesce(product_region_code, '') AS region,
    coalesce(line_item_resource_id, '') AS resource_id,
    coalesce(element_at(resource_tags, %(tag_key)s), '') AS allocation_tag,
    max(line_item_product_code) AS service_category,
    sum(line_item_unblended_cost) AS billed_cost,
    coalesce(sum(CASE line_item_line_item_type
        WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
        WHEN 'SavingsPlanRecurringFee' THEN coalesce(savings_plan_total_commitment_to_date, 0)
                                            - coalesce(savings_plan_used_commitment, 0)
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN reservation_effective_cost
        WHEN 'RIFee' THEN coalesce(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
                          + coalesce(reservation_unused_recurring_fee, 0)
        ELSE line_item_unblended_cost END), 0) AS effective_cost,
    sum(pricing_public_on_demand_cost) AS list_cost,
    sum(line_item_usage_amount) AS consumed_quantity,
    CASE WHEN min(pricing_unit) = max(pricing_unit) THEN min(pricing_unit) END AS consumed_unit,
    min(line_item_currency_code) AS min_currency,
    max(line_item_currency_code) AS max_currency,
    count(*) AS lines
FROM {table}
WHERE billing_period = %(billing_period)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
