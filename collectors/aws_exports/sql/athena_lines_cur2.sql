-- The line items of an AWS CUR 2.0 export in the columns athena_daily.sql sums: one row per line
-- item, keys as the local path forms them. Units: the billing currency. line_effective is
-- amortized as AWS defines it (Savings Plans and reservations spread over the usage they cover;
-- the same CASE as the local path). line_category carries the product code, which Cadence maps
-- to a FOCUS category afterwards.
-- Inputs: the Data Exports CUR 2.0 table (the table of [sources.aws.athena], partitioned by
-- billing_period); parameter tag_key (user_<team tag>), bound by PyAthena.
-- Definition: each CUR 2.0 line item with its day, cost-line key (team-tag value from tag_key) and
--   amounts, effective cost amortized as AWS does.
SELECT
    CAST(line_item_usage_start_date AS DATE) AS charge_date,
    'AWS' AS provider,
    coalesce(bill_payer_account_id, '') AS billing_account_id,
    coalesce(line_item_usage_account_id, '') AS sub_account_id,
    coalesce(element_at(product, 'product_name'), line_item_product_code) AS service_name,
    coalesce(product_region_code, '') AS region,
    coalesce(line_item_resource_id, '') AS resource_id,
    coalesce(element_at(resource_tags, %(tag_key)s), '') AS allocation_tag,
    line_item_product_code AS line_category,
    line_item_unblended_cost AS line_billed,
    CASE line_item_line_item_type
        WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
        WHEN 'SavingsPlanRecurringFee' THEN coalesce(savings_plan_total_commitment_to_date, 0)
                                            - coalesce(savings_plan_used_commitment, 0)
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN reservation_effective_cost
        WHEN 'RIFee' THEN coalesce(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
                          + coalesce(reservation_unused_recurring_fee, 0)
        ELSE line_item_unblended_cost END AS line_effective,
    pricing_public_on_demand_cost AS line_list,
    line_item_usage_amount AS line_quantity,
    pricing_unit AS line_unit,
    line_item_currency_code AS line_currency,
    billing_period
FROM {table}
