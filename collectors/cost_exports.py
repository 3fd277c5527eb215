"""Billing exports into ``costs``: AWS CUR 2.0 (Parquet, or gzipped CSV) and FOCUS 1.0–1.2 (CSV or
Parquet) from any provider (AWS ``FOCUS_1_0_AWS``/``FOCUS_1_2_AWS`` data exports, Azure, GCP, OCI).

Read by DuckDB, from a local file, a local folder, or ``s3://bucket/prefix/``. For S3 the objects
are downloaded with boto3 (standard credential chain, ``AWS_ENDPOINT_URL[_S3]``) to a temporary
folder and read there: DuckDB's httpfs extension is not bundled with the DuckDB wheel and is fetched
from DuckDB's extension repository on first use, which a locked-down host (and this project's CI)
cannot reach; boto3 also gives S3 the exact credential chain and endpoint settings of the other AWS
calls. IAM: ``s3:ListBucket`` on the bucket and ``s3:GetObject`` on the prefix.

Every row is aggregated to the daily grain of ``costs`` (day × provider × billing account ×
sub-account × service × region × resource × team-tag value), validated before anything is written,
and written in one transaction: a file's rows replace what the same source held for the same
providers, billing accounts and days (a re-delivered CUR for a month replaces that month), so an
ingest re-runs without duplicates. A bad file writes nothing.

``cadence ingest costs FILE`` (warehouse/ingest.py) calls ``ingest_cost_export`` for these formats.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cadence.allocation import Allocator
from cadence.config import Config
from cadence.errors import IngestError, SourceError
from cadence.timerange import accepted_range, describe_accepted_range
from warehouse import upsert_rows, write_connection

log = logging.getLogger(__name__)

SOURCE_FOCUS = "focus"
SOURCE_CUR = "aws-cur"
DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".csv.zst", ".snappy.parquet", ".gz.parquet")

# CUR line_item_product_code → FOCUS ServiceCategory, for the services the utilization join needs.
CUR_CATEGORIES = {
    "AmazonEC2": "Compute", "AmazonECS": "Compute", "AmazonEKS": "Compute", "AWSLambda": "Compute",
    "AWSFargate": "Compute", "AmazonRDS": "Databases", "AmazonDynamoDB": "Databases",
    "AmazonElastiCache": "Databases", "AmazonS3": "Storage", "AmazonEFS": "Storage",
    "AmazonCloudFront": "Networking", "AmazonVPC": "Networking", "AWSELB": "Networking",
    "AmazonCloudWatch": "Management and Governance",
}


def _norm(name: str) -> str:
    """Column names compared without case or underscores: ``BilledCost`` = ``billed_cost``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_cost_export(source: str) -> bool:
    """True when ``source`` is for this module: s3://, Parquet, or a CSV with a FOCUS/CUR header."""
    if source.startswith("s3://") or source.lower().endswith(".parquet"):
        return True
    path = Path(source)
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    try:
        con = duckdb.connect()
        cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_csv(?, all_varchar = true, header = true)",
                                          [str(path)]).fetchall()]
        con.close()
    except duckdb.Error:
        return False
    return detect_format(cols) is not None


def detect_format(columns: list[str]) -> str | None:
    names = {_norm(c) for c in columns}
    if {"chargeperiodstart", "billedcost"} <= names:
        return "focus"
    if {"lineitemusagestartdate", "lineitemunblendedcost"} <= names:
        return "cur2"
    return None


# -- reading ----------------------------------------------------------------------------------------

def _local_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
    raise IngestError(f'Cost export "{root}" not found; give a file, a folder or s3://bucket/prefix/.')


def _download_s3(source: str, into: Path, session=None) -> list[Path]:
    """Every data object under ``s3://bucket/prefix``, downloaded with boto3 (key paths kept)."""
    from collectors.aws_costs import IAM_ACTIONS, _call, default_session, make_client

    IAM_ACTIONS.setdefault("list_objects_v2", "s3:ListBucket")
    IAM_ACTIONS.setdefault("get_object", "s3:GetObject")
    match = re.match(r"^s3://([^/]+)/?(.*)$", source)
    if not match:
        raise IngestError(f'"{source}" is not an S3 location; write s3://bucket/prefix/.')
    bucket, prefix = match.groups()
    s3 = make_client(session or default_session(), "s3")
    keys, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
        try:
            page = _call(s3, "list_objects_v2", **kw)
        except SourceError as exc:
            if "NoSuchBucket" in str(exc):
                raise IngestError(f'S3 bucket "{bucket}" does not exist (from {source}); check the export\'s '
                                  f"bucket name and region.") from exc
            raise
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].lower().endswith(DATA_SUFFIXES)]
        token = page.get("NextContinuationToken")
        if not token:
            break
    if not keys:
        raise IngestError(f"No .parquet or .csv objects under {source}; check the prefix (a CUR 2.0 export "
                          f"keeps its data under <prefix>/<export name>/data/BILLING_PERIOD=YYYY-MM/).")
    files = []
    for key in sorted(keys):
        target = into / key
        target.parent.mkdir(parents=True, exist_ok=True)
        body = _call(s3, "get_object", Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as fh:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                fh.write(chunk)
        files.append(target)
    log.info("cost export %s: downloaded %d objects", source, len(files))
    return files


def _describe_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> tuple[str, dict[str, str]]:
    """The SQL that reads the files (all one kind; parameter ``$files``) and their column types."""
    kinds = {"parquet" if f.name.lower().endswith(".parquet") else "csv" for f in files}
    if len(kinds) > 1:
        raise IngestError("A cost export must be all Parquet or all CSV; found both. Ingest them separately.")
    if kinds == {"parquet"}:
        rel = "read_parquet($files, union_by_name = true, filename = true)"
    else:
        # Strings as they are; NULL literals as nulls (the FOCUS sample writes them that way).
        rel = "read_csv($files, all_varchar = true, header = true, nullstr = 'NULL', union_by_name = true, filename = true)"
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}",
                                                 {"files": [str(f) for f in files]}).fetchall()}
    except duckdb.Error as exc:
        raise IngestError(f"Cannot read cost export {_name(files)}: {str(exc).splitlines()[0]}. "
                          f"Nothing was written.") from exc
    return rel, types


def _name(files: list[Path]) -> str:
    return str(files[0]) if len(files) == 1 else f"({len(files)} files)"


# -- mapping to the costs columns -------------------------------------------------------------------

def _pick(columns: list[str], *candidates: str) -> str | None:
    by_norm = {_norm(c): c for c in columns}
    for cand in candidates:
        if _norm(cand) in by_norm:
            return by_norm[_norm(cand)]
    return None


def _q(name: str | None) -> str:
    """A column reference (names come from the file's own header, quoted) or NULL."""
    return '"' + name.replace('"', '""') + '"' if name else "NULL"


def _focus_select(columns: list[str]) -> tuple[dict[str, str], list[str]]:
    c = lambda *n: _pick(columns, *n)  # noqa: E731
    required = {"ChargePeriodStart": c("ChargePeriodStart"), "BilledCost": c("BilledCost"),
                "EffectiveCost": c("EffectiveCost"), "ServiceName": c("ServiceName"),
                "ProviderName": c("ProviderName", "ServiceProviderName", "Provider")}
    missing = [k for k, v in required.items() if v is None]
    exprs = {
        "ts_raw": _q(required["ChargePeriodStart"]),
        "provider": _q(required["ProviderName"]),
        "billing_account_id": _q(c("BillingAccountId")),
        "sub_account_id": _q(c("SubAccountId")),
        "service_name": _q(required["ServiceName"]),
        "service_category": _q(c("ServiceCategory")),
        "region": _q(c("RegionId", "Region")),
        "resource_id": _q(c("ResourceId")),
        "tags_raw": _q(c("Tags")),
        "billed_raw": _q(required["BilledCost"]),
        "effective_raw": _q(required["EffectiveCost"]),
        "list_raw": _q(c("ListCost")),
        "quantity_raw": _q(c("ConsumedQuantity")),
        "consumed_unit": _q(c("ConsumedUnit")),
        "currency": _q(c("BillingCurrency")),
    }
    return exprs, missing


def _cur_select(types: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    columns = list(types)
    c = lambda *n: _pick(columns, *n)  # noqa: E731
    required = {"line_item_usage_start_date": c("line_item_usage_start_date"),
                "line_item_unblended_cost": c("line_item_unblended_cost"),
                "line_item_product_code": c("line_item_product_code")}
    missing = [k for k, v in required.items() if v is None]
    product = c("product")
    product_code = _q(required["line_item_product_code"])
    if product and types.get(product, "").startswith("MAP"):
        service = f"coalesce({_q(product)}['product_name'], {product_code})"
    elif c("product_product_name"):
        service = f"coalesce({_q(c('product_product_name'))}, {product_code})"
    else:
        service = product_code
    # Amortized cost, as AWS defines it: commitments spread over the usage they cover.
    num = lambda n: f"try_cast({_q(c(n))} AS DOUBLE)" if c(n) else "NULL"  # noqa: E731
    line_type = _q(c("line_item_line_item_type"))
    effective = f"""CASE {line_type}
        WHEN 'SavingsPlanCoveredUsage' THEN {num('savings_plan_savings_plan_effective_cost')}
        WHEN 'SavingsPlanRecurringFee' THEN coalesce({num('savings_plan_total_commitment_to_date')}, 0)
                                            - coalesce({num('savings_plan_used_commitment')}, 0)
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN {num('reservation_effective_cost')}
        WHEN 'RIFee' THEN coalesce({num('reservation_unused_amortized_upfront_fee_for_billing_period')}, 0)
                          + coalesce({num('reservation_unused_recurring_fee')}, 0)
        ELSE {num('line_item_unblended_cost')} END"""
    if c("line_item_line_item_type") is None:
        effective = num("line_item_unblended_cost")
    exprs = {
        "ts_raw": _q(required["line_item_usage_start_date"]),
        "provider": "'AWS'",
        "billing_account_id": _q(c("bill_payer_account_id")),
        "sub_account_id": _q(c("line_item_usage_account_id")),
        "service_name": service,
        "service_category": f"(SELECT category FROM cur_categories WHERE code = {product_code})",
        "region": _q(c("product_region_code", "product_region")),
        "resource_id": _q(c("line_item_resource_id")),
        "tags_raw": _q(c("resource_tags")),
        "billed_raw": _q(required["line_item_unblended_cost"]),
        "effective_raw": effective,
        "list_raw": _q(c("pricing_public_on_demand_cost")),
        "quantity_raw": _q(c("line_item_usage_amount")),
        "consumed_unit": _q(c("pricing_unit")),
        "currency": _q(c("line_item_currency_code")),
    }
    return exprs, missing


def _fail_rows(con, where_sql: str, what: str, column_sql: str, label: str, params: dict | None = None) -> None:
    """Raise IngestError naming the first offending row when any row matches ``where_sql``."""
    row = con.execute(f"SELECT count(*), min(_row), arg_min({column_sql}, _row)::VARCHAR, "
                      f"arg_min(filename, _row) FROM typed WHERE {where_sql}", params or {}).fetchone()
    if row[0]:
        raise IngestError(f"{Path(row[3]).name}: row {row[1]}: {label} {row[2]!r} {what} "
                          f"({row[0]} such rows). Nothing was written; fix the export and ingest again.")


def ingest_cost_export(db_path: str | Path, config: Config, source: str | Path, *, session=None) -> dict[str, Any]:
    """Load a CUR 2.0 or FOCUS export (file, folder or s3:// prefix) into ``costs``; all or nothing.

    Returns what was done: format, files, rows read and written, day range, providers, totals.
    """
    source = str(source)
    team_tag = (config.source("aws").get("team_tag") or "team")
    with tempfile.TemporaryDirectory(prefix="cadence-export-") as tmp:
        files = _download_s3(source, Path(tmp), session) if source.startswith("s3://") \
            else _local_files(Path(source))
        if not files:
            raise IngestError(f'No .parquet or .csv files in "{source}".')
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")   # naive timestamps (FOCUS sample) are UTC
            rel, types = _describe_files(con, files)
            columns = list(types)
            fmt = detect_format(columns)
            if fmt is None:
                raise IngestError(f'"{source}" is neither FOCUS (ChargePeriodStart, BilledCost, ...) nor CUR 2.0 '
                                  f"(line_item_usage_start_date, line_item_unblended_cost, ...); nothing was written.")
            con.register("cur_categories", pd.DataFrame({"code": list(CUR_CATEGORIES),
                                                         "category": list(CUR_CATEGORIES.values())}))
            exprs, missing = _focus_select(columns) if fmt == "focus" else _cur_select(types)
            if missing:
                raise IngestError(f'"{source}" ({fmt}) lacks required column(s) {", ".join(missing)}; '
                                  f"nothing was written.")
            tags_col = _pick(columns, "Tags") if fmt == "focus" else _pick(columns, "resource_tags")
            tags_is_map = bool(tags_col) and types.get(tags_col, "").startswith("MAP")
            select = ", ".join(f"{v} AS {k}" for k, v in exprs.items())
            if tags_is_map:
                tags_json = "to_json(tags_raw)::VARCHAR"
                tag_value = "tags_raw[$tag_key]"
                tag_key = f"user_{team_tag}" if fmt == "cur2" else team_tag
            else:
                tags_json = "tags_raw::VARCHAR"
                tag_value = "CASE WHEN json_valid(tags_raw) THEN json_extract_string(tags_raw, $tag_key) END"
                key = f"user_{team_tag}" if fmt == "cur2" else team_tag
                tag_key = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
            # One pass over the files: pick the columns, then type them (failures become NULLs that
            # the checks below report with their row).
            picked = f"(SELECT _row, filename, {select} FROM (SELECT row_number() OVER () AS _row, * FROM {rel}))"
            try:
                con.execute(f"""
                CREATE TEMP TABLE typed AS SELECT _row, filename, ts_raw,
                    try_cast(ts_raw AS TIMESTAMPTZ) AS ts,
                    provider, billing_account_id, sub_account_id, service_name, service_category, region,
                    resource_id, tags_raw, {tags_json} AS tags, {tag_value} AS tag_value,
                    billed_raw, try_cast(billed_raw AS DOUBLE) AS billed,
                    effective_raw, try_cast(effective_raw AS DOUBLE) AS effective,
                    list_raw, try_cast(list_raw AS DOUBLE) AS list,
                    quantity_raw, try_cast(quantity_raw AS DOUBLE) AS quantity,
                    consumed_unit, currency
                FROM {picked}""", {"tag_key": tag_key, "files": [str(f) for f in files]})
            except duckdb.Error as exc:
                raise IngestError(f"Cannot read cost export {_name(files)}: {str(exc).splitlines()[0]}. "
                                  f"Nothing was written.") from exc
            rows_read = con.execute("SELECT count(*) FROM typed").fetchone()[0]
            if rows_read == 0:
                raise IngestError(f'"{source}" has a header but no rows; nothing was written.')
            start_col = "ChargePeriodStart" if fmt == "focus" else "line_item_usage_start_date"
            _fail_rows(con, "ts IS NULL", "is not a timestamp", "ts_raw", start_col)
            earliest, latest = accepted_range()
            _fail_rows(con, "timezone('UTC', ts) < $lo OR timezone('UTC', ts) > $hi",
                       f"is outside the accepted range {describe_accepted_range()}", "ts_raw", start_col,
                       {"lo": earliest, "hi": latest})
            for raw, typed, label in (("billed_raw", "billed", "BilledCost"),
                                      ("effective_raw", "effective", "EffectiveCost"),
                                      ("list_raw", "list", "ListCost"),
                                      ("quantity_raw", "quantity", "ConsumedQuantity")):
                _fail_rows(con, f"{raw} IS NOT NULL AND ({typed} IS NULL OR NOT isfinite({typed}))",
                           "is not a number", raw, label)
            _fail_rows(con, "billed IS NULL", "is empty", "billed_raw", "the billed cost")
            _fail_rows(con, "coalesce(trim(provider), '') = ''", "is empty", "provider", "the provider")
            _fail_rows(con, "coalesce(trim(service_name), '') = ''", "is empty", "service_name", "the service")
            if tags_col and not tags_is_map:
                _fail_rows(con, "tags_raw IS NOT NULL AND NOT json_valid(tags_raw)", "is not JSON",
                           "tags_raw", "Tags")
            currencies = [r[0] for r in con.execute("SELECT DISTINCT currency FROM typed WHERE currency IS NOT NULL")
                          .fetchall()]
            if len(currencies) > 1:
                log.warning("cost export %s holds %d currencies (%s); amounts are stored as given",
                            source, len(currencies), ", ".join(sorted(currencies)))
            daily = con.execute("""
                SELECT CAST(timezone('UTC', ts) AS DATE) AS charge_date, provider,
                       coalesce(billing_account_id, '') AS billing_account_id,
                       coalesce(sub_account_id, '') AS sub_account_id, service_name,
                       coalesce(region, '') AS region, coalesce(resource_id, '') AS resource_id,
                       coalesce(tag_value, '') AS allocation_tag,
                       max(service_category) AS service_category, max(tags) AS tags,
                       sum(billed) AS billed_cost, coalesce(sum(effective), 0) AS effective_cost,
                       sum(list) AS list_cost, sum(quantity) AS consumed_quantity,
                       CASE WHEN count(DISTINCT consumed_unit) = 1 THEN max(consumed_unit) END AS consumed_unit,
                       coalesce(max(currency), 'USD') AS currency
                FROM typed GROUP BY ALL""").df()
        finally:
            con.close()

    for col in ("billed_cost", "effective_cost"):
        if not all(math.isfinite(v) for v in daily[col]):
            raise IngestError(f'"{source}": {col} sums to a non-finite value; nothing was written.')
    daily["source"] = SOURCE_FOCUS if fmt == "focus" else SOURCE_CUR
    daily["estimated"] = False
    allocator = Allocator(config)
    combos = daily[["allocation_tag", "sub_account_id", "billing_account_id", "service_name"]].drop_duplicates()
    combos["team"] = [allocator.team(t, (s, b), svc) for t, s, b, svc in combos.itertuples(index=False)]
    daily = daily.merge(combos, on=["allocation_tag", "sub_account_id", "billing_account_id", "service_name"],
                        how="left")
    daily = daily.astype({"service_category": object, "tags": object, "consumed_unit": object, "list_cost": float,
                          "consumed_quantity": float})
    daily["charge_date"] = pd.to_datetime(daily["charge_date"]).dt.date
    first_day, last_day = min(daily["charge_date"]), max(daily["charge_date"])
    scopes = daily[["provider", "billing_account_id"]].drop_duplicates()
    with write_connection(db_path) as wcon:
        for provider, account in scopes.itertuples(index=False):
            wcon.execute("DELETE FROM costs WHERE source = ? AND provider = ? AND billing_account_id = ? "
                         "AND charge_date BETWEEN ? AND ?",
                         [daily["source"].iat[0], provider, account, first_day, last_day])
        written = upsert_rows(wcon, "costs", daily)
    result = {
        "format": fmt, "source": daily["source"].iat[0], "files": len(files), "rows_read": int(rows_read),
        "rows_written": int(written), "first_day": first_day, "last_day": last_day,
        "providers": sorted(daily["provider"].unique().tolist()),
        "effective_cost": float(daily["effective_cost"].sum()), "billed_cost": float(daily["billed_cost"].sum()),
    }
    log.info("cost export %s (%s): %d files, %d rows → %d daily rows, %s..%s", source, fmt, len(files), rows_read,
             written, first_day, last_day)
    return result


__all__ = ["detect_format", "ingest_cost_export", "is_cost_export"]
