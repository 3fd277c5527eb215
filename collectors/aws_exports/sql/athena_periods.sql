-- The files behind each billing period of the export table: what Cadence compares with the last
-- run to re-query only the periods AWS restated. Grain: billing period × data file. Reads only
-- Athena's file pseudo-columns (path, size, modification time), no cost column.
-- Inputs: the Data Exports table (the table of [sources.aws.athena], partitioned by billing_period = 'YYYY-MM').
-- Definition: each billing period's data files with their size and modification time, so a
--   restated period is one whose files changed.
SELECT billing_period, "$path" AS path, "$file_size" AS size, CAST("$file_modified_time" AS VARCHAR) AS modified
FROM {table}
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2
