-- Daily cost of one billing period of an AWS Data Export (CUR 2.0 or FOCUS 1.0), computed by
-- Athena so that only the daily rows leave it. Grain: day (UTC) × provider × billing account ×
-- sub-account × service × region × resource × team-tag value, the grain of Cadence's `costs` and
-- of the local path (collectors/aws_exports/local.py), column for column. Units: the billing
-- currency.
-- Inputs: the export's line items in common columns, from athena_lines_cur2.sql or
-- athena_lines_focus.sql (by [sources.aws.athena] format; collectors/aws_exports/athena.py puts
-- it in the FROM clause), and the parameter billing_period ('YYYY-MM', the table's partition),
-- bound by PyAthena.
-- Written in the SQL subset Athena (Trino) and DuckDB share, so the same text is tested on DuckDB
-- (after sqlglot's transpilation) against the local path.
-- Definition: the export's line items of the billing period summed per day and cost-line key.
SELECT
    charge_date, provider, billing_account_id, sub_account_id, service_name, region, resource_id,
    allocation_tag,
    max(line_category) AS service_category,
    sum(line_billed) AS billed_cost,
    coalesce(sum(line_effective), 0) AS effective_cost,
    sum(line_list) AS list_cost,
    sum(line_quantity) AS consumed_quantity,
    CASE WHEN min(line_unit) = max(line_unit) THEN min(line_unit) END AS consumed_unit,
    min(line_currency) AS min_currency,
    max(line_currency) AS max_currency,
    count(*) AS lines
FROM ({lines}) AS line_item
WHERE billing_period = %(billing_period)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
