"""Billing export files → ``costs``, set-wise in DuckDB from end to end.

Input: AWS CUR 2.0 (Parquet, or CSV) and FOCUS 1.0–1.2 (Parquet or CSV, plain, gzip or zstd) from any
provider; many files per billing period; columns found by name (case and underscores ignored).

The path, with no per-row Python and no DataFrame of the rows:

1. **Aggregate** (a private in-memory DuckDB, ``memory_limit`` from ``[sources.cost_exports]``,
   spilling to a folder under ``temp_directory`` beyond it): one scan of the files types every
   column with ``try_cast``, groups to the daily grain of ``costs`` (day × provider × billing
   account × sub-account × service × region × resource × team-tag value) and counts, per group,
   the lines that fail each check. Nothing of the input is held but the groups.
2. **Check**: when any count is not zero, the first file holding such a line is scanned again with
   its line numbers to name it (``focus.csv: row 3: BilledCost 'twelve' is not a number (1 such
   rows)``), and nothing is written. Only a bad file pays for that second scan.
3. **Allocate**: a join of the daily groups on the small rules table of ``cadence.core.allocation``
   (tag → account → service → ``unallocated``, the order of ``Allocator.team``), as a view read
   once, by the write.
4. **Write**, in one ``write_connection`` transaction: the replaced scope is deleted and the rows
   go in with ``INSERT … SELECT`` from the stage's query, streamed to the warehouse as Arrow
   batches (nothing staged on disk unless the stage had to spill). Each row's key is
   unique by construction (GROUP BY) and every key inside the deleted scope, so no key is held
   twice. A failure anywhere before the commit writes nothing.

Replaced scope: per provider and billing account, the days of each month the input holds
(``cadence ingest costs``), or a whole billing period when the caller knows the input is all of it
(``cadence sync aws-exports``, Athena): a restated month replaces that month for that account.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cadence.core.allocation import UNALLOCATED, allocation_rule_rows
from cadence.core.config import Config
from cadence.core.errors import IngestError
from cadence.core.timerange import accepted_range, describe_accepted_range
from cadence.core.settings.aws_exports import ExportSettings, export_settings
from warehouse import write_connection

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

# The columns of ``costs`` this path writes, in the order of the staging table ``out``.
COST_COLUMNS = ("charge_date", "source", "provider", "billing_account_id", "sub_account_id", "service_name",
                "region", "resource_id", "allocation_tag", "service_category", "tags", "team", "billed_cost",
                "effective_cost", "list_cost", "consumed_quantity", "consumed_unit", "currency", "estimated")


def _norm(name: str) -> str:
    """Column names compared without case or underscores: ``BilledCost`` = ``billed_cost``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def detect_format(columns: list[str]) -> str | None:
    names = {_norm(c) for c in columns}
    if {"chargeperiodstart", "billedcost"} <= names:
        return "focus"
    if {"lineitemusagestartdate", "lineitemunblendedcost"} <= names:
        return "cur2"
    return None


def source_of(fmt: str) -> str:
    return SOURCE_FOCUS if fmt == "focus" else SOURCE_CUR


def is_parquet(path: Path | str) -> bool:
    return str(path).lower().endswith(".parquet")


def local_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
    raise IngestError(f'Cost export "{root}" not found; give a file, a folder or s3://bucket/prefix/.')


def _name(files: list[Path]) -> str:
    return str(files[0]) if len(files) == 1 else f"({len(files)} files)"


def _used(sql: str, params: dict) -> dict:
    """The named parameters ``sql`` refers to (DuckDB refuses any it does not use)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_relation(files: list[Path]) -> str:
    """The SQL that reads the files (all one kind; parameter ``$files``), columns by name."""
    kinds = {"parquet" if is_parquet(f) else "csv" for f in files}
    if len(kinds) > 1:
        raise IngestError("A cost export must be all Parquet or all CSV; found both. Ingest them separately.")
    if kinds == {"parquet"}:
        return "read_parquet($files, union_by_name = true, filename = true)"
    # Strings as they are (typed below, so a bad value is reported, not guessed); NULL literals and
    # empty fields as nulls (the FOCUS sample writes NULL, most CSV writers an empty field); .gz and
    # .zst are decompressed by their extension.
    return ("read_csv($files, all_varchar = true, header = true, nullstr = ['NULL', ''], union_by_name = true, "
            "filename = true)")


# -- mapping to the costs columns -------------------------------------------------------------------

def _pick(columns: list[str], *candidates: str) -> str | None:
    by_norm = {_norm(c): c for c in columns}
    for cand in candidates:
        if _norm(cand) in by_norm:
            return by_norm[_norm(cand)]
    return None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(columns: list[str], *candidates: str) -> str | None:
    """The SQL for a column found by name: files of one export may spell it differently
    (``BilledCost``, ``billed_cost``), and reading them together keeps each spelling as its own
    column, so every spelling present is taken (``coalesce``); None when there is none."""
    for cand in candidates:
        found = [_ident(c) for c in columns if _norm(c) == _norm(cand)]
        if found:
            return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"
    return None


def _q(expr: str | None) -> str:
    """A column expression from ``_col``, or NULL."""
    return expr or "NULL"


def _focus_select(columns: list[str]) -> tuple[dict[str, str], list[str]]:
    c = lambda *n: _col(columns, *n)  # noqa: E731
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
    c = lambda *n: _col(columns, *n)  # noqa: E731
    required = {"line_item_usage_start_date": c("line_item_usage_start_date"),
                "line_item_unblended_cost": c("line_item_unblended_cost"),
                "line_item_product_code": c("line_item_product_code")}
    missing = [k for k, v in required.items() if v is None]
    product = _pick(columns, "product")
    product_code = _q(required["line_item_product_code"])
    if product and types.get(product, "").startswith("MAP"):
        service = f"coalesce({_ident(product)}['product_name'], {product_code})"
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
        "service_category": f"CAST({product_code} AS VARCHAR)",   # mapped through cur_categories below
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


# -- the checks -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One rule every line must pass.

    ``group``: an aggregate, computed for each daily group in the one scan, that is not zero when
    a line of the group fails (None: ``daily_flag`` alone decides); ``daily_flag``: the condition
    over ``daily`` that says some line failed; ``where``: the line-level condition the second scan
    uses to find and count the failing lines; ``shown``: the raw value quoted; ``label``/``what``:
    the words of the message. Group-level aggregates keep the clean scan cheap: a count difference
    or a sum already computed instead of a condition per line.
    """

    name: str
    group: str | None
    daily_flag: str
    where: str
    shown: str
    label: str
    what: str


def _checks(fmt: str, tags_checked: bool, numeric: set[str] = frozenset()) -> list[Check]:
    start_col = "ChargePeriodStart" if fmt == "focus" else "line_item_usage_start_date"
    checks = [
        Check("bad_ts", "count(*) - count(ts)", "bad_ts > 0", "ts IS NULL", "ts_raw", start_col, "is not a timestamp"),
        Check("out_of_range", "(min(ts) < $lo OR max(ts) > $hi)::INTEGER",
              "out_of_range > 0", "ts < $lo OR ts > $hi", "ts_raw", start_col,
              f"is outside the accepted range {describe_accepted_range()}"),
    ]
    for raw, typed, label in (("billed_raw", "billed", "BilledCost"), ("effective_raw", "effective", "EffectiveCost"),
                              ("list_raw", "list", "ListCost"), ("quantity_raw", "quantity", "ConsumedQuantity")):
        # Text that does not parse is counted by count(raw) - count(typed) (a typed column has
        # none); inf and nan make the group's sum non-finite.
        unparsed = "" if raw in numeric else f"count({raw}) - count({typed}) + "
        checks.append(Check(f"bad_{typed}", f"{unparsed}(NOT isfinite(coalesce(sum({typed}), 0)))::INTEGER",
                            f"bad_{typed} > 0", f"{raw} IS NOT NULL AND ({typed} IS NULL OR NOT isfinite({typed}))",
                            raw, label, "is not a number"))
    checks += [
        Check("no_billed", "count(*) - count(billed)", "no_billed > 0", "billed IS NULL", "billed_raw",
              "the billed cost", "is empty"),
        # Provider and service are keys of the group: checked once per group.
        Check("no_provider", None, "coalesce(trim(provider), '') = ''", "coalesce(trim(provider), '') = ''",
              "provider", "the provider", "is empty"),
        Check("no_service", None, "coalesce(trim(service_name), '') = ''", "coalesce(trim(service_name), '') = ''",
              "service_name", "the service", "is empty"),
    ]
    if tags_checked:
        checks.append(Check("bad_tags", "count(*) FILTER (WHERE tags_raw IS NOT NULL AND NOT json_valid(tags_raw))",
                            "bad_tags > 0", "tags_raw IS NOT NULL AND NOT json_valid(tags_raw)", "tags_raw", "Tags",
                            "is not JSON"))
    return checks


# -- staging ----------------------------------------------------------------------------------------

class Stage:
    """A private in-memory DuckDB: the daily aggregate and what to replace.

    DuckDB holds at most ``memory_limit`` and spills the rest (of a large aggregation, and of the
    staged tables themselves) to a folder under ``temp_directory``, removed afterwards. In memory,
    not a file: a staging file cost a compressed write, a checkpoint and a read back of every
    daily row.
    """

    spill = True    # False only in the test that shows the limit is real: without spilling it fails

    def __init__(self, settings: ExportSettings):
        root = settings.spill_root()
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix="cadence-export-", dir=root))
        except OSError as exc:
            raise IngestError(f'Cannot use "{root}" for the cost export\'s temporary files ({exc.strerror}); set '
                              f"[sources.cost_exports] temp_directory to a writable folder.") from exc
        self.settings = settings
        cfg = {"memory_limit": settings.memory_limit, "temp_directory": str(self.dir / "spill") if self.spill else "",
               # Insertion order is not needed (every result is grouped); keeping it costs memory.
               "preserve_insertion_order": False}
        if settings.threads:
            cfg["threads"] = settings.threads
        self.con = duckdb.connect(":memory:", config=cfg)
        self.con.execute("SET TimeZone = 'UTC'")   # naive timestamps (FOCUS sample) are UTC

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def cleanup(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def _duckdb_failure(exc: duckdb.Error, files: list[Path], settings: ExportSettings) -> IngestError:
    """A DuckDB error while reading or aggregating, said for a user: what and what to do next."""
    text = _first_line(exc)
    low = text.lower()
    if "no space left" in low or ("could not" in low and "temp" in low and "write" in low):
        return IngestError(f"Ran out of disk space spilling the cost export {_name(files)} to "
                           f"{settings.spill_root()} ({text}). Nothing was written; free space there, or set "
                           f"[sources.cost_exports] temp_directory to a larger disk.")
    if isinstance(exc, duckdb.OutOfMemoryException) or "out of memory" in low:
        return IngestError(f"The cost export {_name(files)} needed more than memory_limit = "
                           f"{settings.memory_limit} even with spilling to {settings.spill_root()} ({text}). "
                           f"Nothing was written; raise [sources.cost_exports] memory_limit.")
    return IngestError(f"Cannot read cost export {_name(files)}: {text}. If a file was cut short (a truncated "
                       f"download or an export still being written), fetch it again. Nothing was written.")


def aggregate_files(stage: Stage, config: Config, files: list[Path], *, name: str) -> dict[str, Any]:
    """Read the files once into ``daily`` (the costs grain, with per-group check counts) and check
    them; raises IngestError naming the first bad line. Returns format, files and lines read."""
    con = stage.con
    params = {"files": [str(f) for f in files]}
    rel = read_relation(files)
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}", params).fetchall()}
    except duckdb.Error as exc:
        raise _duckdb_failure(exc, files, stage.settings) from exc
    columns = list(types)
    fmt = detect_format(columns)
    if fmt is None:
        raise IngestError(f'"{name}" is neither FOCUS (ChargePeriodStart, BilledCost, ...) nor CUR 2.0 '
                          f"(line_item_usage_start_date, line_item_unblended_cost, ...); nothing was written.")
    exprs, missing = _focus_select(columns) if fmt == "focus" else _cur_select(types)
    if missing:
        raise IngestError(f'"{name}" ({fmt}) lacks required column(s) {", ".join(missing)}; nothing was written.')
    team_tag = (config.source("aws").get("team_tag") or "team")
    tags_col = _pick(columns, "Tags") if fmt == "focus" else _pick(columns, "resource_tags")
    tags_is_map = bool(tags_col) and types.get(tags_col, "").startswith("MAP")
    key = f"user_{team_tag}" if fmt == "cur2" else team_tag
    # The tags are turned into JSON once per daily group, not once per line; a group is one
    # resource's day with one team-tag value, so its lines carry that resource's tags: those of its
    # earliest line are kept. arg_min compares the timestamp and copies a MAP only when it wins:
    # any_value() over a MAP encodes every line's map (a third of the clean scan's time), max()
    # compares them (more than the rest of the aggregation).
    if tags_is_map:
        tags_json, tag_value, tag_key = "to_json(arg_min(tags_raw, ts))::VARCHAR", "tags_raw[$tag_key]", key
    else:
        tags_json = "arg_min(tags_raw, ts)::VARCHAR"
        tag_value = "CASE WHEN json_valid(tags_raw) THEN json_extract_string(tags_raw, $tag_key) END"
        tag_key = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    select = ", ".join(f"{v} AS {k}" for k, v in exprs.items())
    try:
        picked = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT {select} FROM {rel}", params).fetchall()}
    except duckdb.Error as exc:
        raise _duckdb_failure(exc, files, stage.settings) from exc
    numeric = {k for k, t in picked.items() if re.match(r"^(DOUBLE|FLOAT|REAL|DECIMAL|BIGINT|INTEGER|SMALLINT|"
                                                         r"TINYINT|HUGEINT|UBIGINT|UINTEGER)", t)}
    checks = _checks(fmt, bool(tags_col) and not tags_is_map, numeric)
    # Typed columns, naive UTC timestamps and doubles: text that does not convert becomes NULL
    # here and is counted by its check; columns the file already types (Parquet) are taken as
    # they are, without a round trip through text.
    ts_type = picked.get("ts_raw", "VARCHAR")
    if ts_type == "TIMESTAMP":
        ts = "ts_raw"
    elif ts_type == "TIMESTAMP WITH TIME ZONE":
        ts = "timezone('UTC', ts_raw)"
    elif ts_type == "DATE" or ts_type.startswith("TIMESTAMP"):
        ts = "CAST(ts_raw AS TIMESTAMP)"
    else:
        ts = "timezone('UTC', try_cast(ts_raw AS TIMESTAMPTZ))"
    num = lambda raw: f"CAST({raw} AS DOUBLE)" if raw in numeric else f"try_cast({raw} AS DOUBLE)"  # noqa: E731
    typed = f"""SELECT filename, ts_raw, {ts} AS ts,
            provider, billing_account_id, sub_account_id, service_name, service_category, region,
            resource_id, tags_raw, {tag_value} AS tag_value,
            billed_raw, {num('billed_raw')} AS billed,
            effective_raw, {num('effective_raw')} AS effective,
            list_raw, {num('list_raw')} AS list,
            quantity_raw, {num('quantity_raw')} AS quantity,
            consumed_unit, currency
        FROM (SELECT filename, {select} FROM {rel})"""
    counts = "".join(f",\n{c.group} AS {c.name}" for c in checks if c.group)
    lo, hi = accepted_range()
    params |= {"tag_key": tag_key, "lo": lo, "hi": hi}
    try:
        con.execute(f"""
        CREATE OR REPLACE TABLE daily AS
        SELECT CAST(ts AS DATE) AS charge_date, provider,
               coalesce(billing_account_id, '') AS billing_account_id,
               coalesce(sub_account_id, '') AS sub_account_id, service_name,
               coalesce(region, '') AS region, coalesce(resource_id, '') AS resource_id,
               coalesce(tag_value, '') AS allocation_tag,
               max(service_category) AS service_category, {tags_json} AS tags,
               sum(billed) AS billed_cost, coalesce(sum(effective), 0) AS effective_cost,
               sum(list) AS list_cost, sum(quantity) AS consumed_quantity,
               CASE WHEN min(consumed_unit) = max(consumed_unit) THEN min(consumed_unit) END AS consumed_unit,
               min(currency) AS min_currency, max(currency) AS max_currency,
               count(*) AS lines{counts}
        FROM ({typed}) GROUP BY ALL""", params)   # every parameter is used: the checks hold $lo and $hi
        if fmt == "cur2":
            map_cur_categories(con)
        sums = con.execute(f"SELECT coalesce(sum(lines), 0), "
                           f"{', '.join(f'count(*) FILTER (WHERE {c.daily_flag})' for c in checks)} "
                           f"FROM daily").fetchone()
    except duckdb.Error as exc:
        raise _duckdb_failure(exc, files, stage.settings) from exc
    lines = int(sums[0])
    if lines == 0:
        raise IngestError(f'"{name}" has a header but no rows; nothing was written.')
    for check, failed in zip(checks, sums[1:], strict=True):
        if failed:
            _raise_first(con, check, files, typed, params, stage.settings)
    bad = con.execute("SELECT count(*) FROM (SELECT sum(billed_cost) b, sum(effective_cost) e FROM daily) "
                      "WHERE NOT isfinite(b) OR NOT isfinite(e)").fetchone()[0]
    if bad:
        raise IngestError(f'"{name}": the costs sum to a non-finite value; nothing was written.')
    currencies = [r[0] for r in con.execute(
        "SELECT DISTINCT c FROM (SELECT min_currency AS c FROM daily UNION SELECT max_currency FROM daily) "
        "WHERE c IS NOT NULL ORDER BY c").fetchall()]
    if len(currencies) > 1:
        log.warning("cost export %s holds %d currencies (%s); amounts are stored as given",
                    name, len(currencies), ", ".join(currencies))
    return {"format": fmt, "files": len(files), "rows_read": lines}


def map_cur_categories(con: duckdb.DuckDBPyConnection) -> None:
    """``daily.service_category`` holds CUR product codes: give them their FOCUS category."""
    con.execute("CREATE OR REPLACE TEMP TABLE cur_categories (code VARCHAR, category VARCHAR)")
    con.executemany("INSERT INTO cur_categories VALUES (?, ?)", list(CUR_CATEGORIES.items()))
    con.execute("UPDATE daily SET service_category = (SELECT category FROM cur_categories "
                "WHERE code = daily.service_category)")


def check_daily(stage: Stage, name: str) -> int:
    """Checks for daily rows computed elsewhere (Athena): a day, a provider and a service on every
    row, days in the accepted range, finite sums. Returns the lines they sum."""
    lo, hi = accepted_range()
    con = stage.con
    for where, what in (("charge_date IS NULL", "a row without a day"),
                        ("charge_date < $lo OR charge_date > $hi", f"a day outside {describe_accepted_range()}"),
                        ("coalesce(trim(provider), '') = ''", "a row without a provider"),
                        ("coalesce(trim(service_name), '') = ''", "a row without a service"),
                        ("billed_cost IS NULL OR NOT isfinite(billed_cost) OR NOT isfinite(effective_cost)",
                         "a cost that is not a number")):
        sql = f"SELECT count(*), min(charge_date)::VARCHAR FROM daily WHERE {where}"
        count, day = con.execute(sql, _used(sql, {"lo": lo.date(), "hi": hi.date()})).fetchone()
        if count:
            raise IngestError(f"{name}: {count} daily rows hold {what} (first day {day}); nothing was written.")
    return int(con.execute("SELECT coalesce(sum(lines), 0) FROM daily").fetchone()[0])


def _raise_first(con, check: Check, files: list[Path], typed: str, params: dict, settings: ExportSettings) -> None:
    """Name the first line failing ``check``: the failing lines counted and the first file holding
    one found in one scan, then that file scanned with line numbers (paid only by a bad export)."""
    try:
        con.execute("SET preserve_insertion_order = true")   # line numbers follow the file
        sql = f"SELECT count(*), min(filename) FROM ({typed}) WHERE {check.where}"
        count, first_file = con.execute(sql, _used(sql, params)).fetchone()
        if not count:   # finite values whose sum overflows: no single line to name
            raise IngestError(f"{_name(files)}: {check.label} sums to a value too large to store; nothing was "
                              f"written.")
        # The same read of every file (the same columns), kept to that file: DuckDB skips the
        # other files on the filename filter, and numbers that file's lines in order.
        sql = f"""WITH numbered AS (SELECT row_number() OVER () AS _row, * FROM ({typed}) WHERE filename = $first)
            SELECT min(_row), arg_min({check.shown}, _row)::VARCHAR FROM numbered WHERE {check.where}"""
        row = con.execute(sql, _used(sql, {**params, "first": first_file})).fetchone()
        con.execute("SET preserve_insertion_order = false")
    except duckdb.Error as exc:
        raise _duckdb_failure(exc, files, settings) from exc
    raise IngestError(f"{Path(first_file).name}: row {row[0]}: {check.label} {row[1]!r} {check.what} "
                      f"({count} such rows). Nothing was written; fix the export and ingest again.")


def allocate(stage: Stage, config: Config, source: str, *, period: tuple[date, date] | None = None) -> int:
    """``out``: ``daily`` with its team (a view joining the rules table, read once, by the write) and
    ``scopes``: what the write replaces. Returns the number of rows to write."""
    con = stage.con
    rules = allocation_rule_rows(config)
    con.execute("CREATE OR REPLACE TABLE rules (kind VARCHAR, value VARCHAR, team VARCHAR)")
    if rules:
        con.executemany("INSERT INTO rules VALUES (?, ?, ?)", rules)
    # A view takes no parameters: the two constants it needs are a one-row table.
    con.execute("CREATE OR REPLACE TABLE labels AS SELECT $source AS source, $unallocated AS unallocated",
                {"source": source, "unallocated": UNALLOCATED})
    # Allocator.team's order: a non-empty tag value, then the sub-account, then the billing
    # account, then the service; rules hold one team per (kind, value), so no row is repeated.
    con.execute("""
        CREATE OR REPLACE VIEW out AS
        SELECT d.charge_date, l.source, d.provider, d.billing_account_id, d.sub_account_id,
               d.service_name, d.region, d.resource_id, d.allocation_tag, d.service_category, d.tags,
               coalesce(CASE WHEN d.allocation_tag <> '' THEN by_tag.team END, by_sub.team, by_billing.team,
                        by_service.team, l.unallocated) AS team,
               d.billed_cost, d.effective_cost, d.list_cost, d.consumed_quantity, d.consumed_unit,
               coalesce(d.max_currency, 'USD') AS currency, false AS estimated
        FROM daily d CROSS JOIN labels l
        LEFT JOIN rules by_tag ON by_tag.kind = 'tag' AND by_tag.value = d.allocation_tag
        LEFT JOIN rules by_sub ON by_sub.kind = 'account' AND by_sub.value = nullif(d.sub_account_id, '')
        LEFT JOIN rules by_billing ON by_billing.kind = 'account' AND by_billing.value = nullif(d.billing_account_id, '')
        LEFT JOIN rules by_service ON by_service.kind = 'service' AND by_service.value = d.service_name
        """)
    if period is None:
        # Per provider, billing account and month: the days from the first to the last held.
        con.execute("""CREATE OR REPLACE TABLE scopes AS
            SELECT provider, billing_account_id, min(charge_date) AS first_day, max(charge_date) AS last_day
            FROM daily GROUP BY provider, billing_account_id, date_trunc('month', charge_date)""")
    else:
        # The whole billing period (and any line charged outside it) for every account it holds.
        con.execute("""CREATE OR REPLACE TABLE scopes AS
            SELECT provider, billing_account_id, least(min(charge_date), $first) AS first_day,
                   greatest(max(charge_date), $last) AS last_day
            FROM daily GROUP BY provider, billing_account_id""", {"first": period[0], "last": period[1]})
    return con.execute("SELECT count(*) FROM daily").fetchall()[0][0]


def summary(stage: Stage) -> dict[str, Any]:
    first, last, billed, effective, providers = stage.con.execute(
        "SELECT min(charge_date), max(charge_date), sum(billed_cost), sum(effective_cost), "
        "list_sort(list(DISTINCT provider)) FROM daily").fetchall()[0]
    return {"first_day": first, "last_day": last, "providers": providers or [],
            "billed_cost": float(billed or 0), "effective_cost": float(effective or 0)}


def write_stage(db_path: str | Path, stage: Stage, source: str,
                also: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None) -> int:
    """Replace the scopes and insert ``out`` into ``costs`` in one transaction; ``also(con, rows)``
    runs in the same transaction (a sync's state). Returns the rows written.

    The rows go from the stage to the warehouse as an Arrow stream (the Arrow C stream interface,
    no pyarrow): the warehouse reads the stage's query batch by batch as it runs, so nothing is
    written to disk but the warehouse itself and no more than a batch is held outside DuckDB."""
    cols = ", ".join(COST_COLUMNS)
    # A connection streams one result at a time: the scopes come through a second one.
    scopes = stage.con.cursor().sql("SELECT provider, billing_account_id, first_day, last_day FROM scopes")
    rows = stage.con.sql(f"SELECT {cols} FROM out")
    with write_connection(db_path) as con:
        con.register("stage_scopes", scopes.__arrow_c_stream__())
        con.register("stage_out", rows.__arrow_c_stream__())
        # The rows of costs have no order. Keeping the stream's order, DuckDB wrote the row groups
        # in order and rewrote them when the warehouse closed (1 CPU s and 3.5 s at 833,000 daily
        # rows); without, it writes each as it fills. SESSION: this connection only, which
        # write_connection closes after the commit.
        con.execute("SET SESSION preserve_insertion_order = false")
        # No unregister: the connection ends with the transaction, and in a failed one it would
        # raise "transaction is aborted" in place of the failure.
        con.execute("""DELETE FROM costs USING stage_scopes s
            WHERE costs.source = ? AND costs.provider = s.provider
              AND costs.billing_account_id = s.billing_account_id
              AND costs.charge_date BETWEEN s.first_day AND s.last_day""", [source])
        written = con.execute(f"INSERT INTO costs ({cols}) SELECT {cols} FROM stage_out").fetchall()[0][0]
        if also is not None:
            also(con, written)
    return int(written)


@dataclass
class PeriodReport:
    """What a sync by billing period did (S3 and Athena): periods found, those unchanged since the
    last run, and what each loaded one gave; ``lines()`` is what the CLI prints."""

    where: str
    periods: int = 0
    unchanged: list[str] = field(default_factory=list)
    loaded: list[dict] = field(default_factory=list)
    verb = "loaded"      # what was done to a changed period

    def tally(self) -> str:
        """The reader's own count, ending the headline."""
        return ""

    def detail(self, item: dict) -> str:
        """What a loaded period's line says before its lines read (nothing by default)."""
        return ""

    def lines(self) -> list[str]:
        headline = (f"aws-exports {self.where}: {self.periods} billing periods, {len(self.loaded)} {self.verb}, "
                    f"{len(self.unchanged)} unchanged")
        return [", ".join(filter(None, [headline, self.tally()]))] + [
            f"  {item['period']} ({item['format']}): {self.detail(item)}{item['rows_read']:,} lines → "
            f"{item['rows_written']:,} daily rows ({item['first_day']} to {item['last_day']})"
            for item in self.loaded]


def ingest_files(db_path: str | Path, config: Config, files: list[Path], *, name: str,
                 period: tuple[date, date] | None = None,
                 also: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None) -> dict[str, Any]:
    """Files → ``costs``, all or nothing (see the module's docstring); returns what was done."""
    if not files:
        raise IngestError(f'No .parquet or .csv files in "{name}".')
    settings = export_settings(config)
    with Stage(settings) as stage:
        result = aggregate_files(stage, config, files, name=name)
        source = source_of(result["format"])
        allocate(stage, config, source, period=period)
        result |= {"source": source, **summary(stage)}
        result["rows_written"] = write_stage(db_path, stage, source, also)
    log.info("cost export %s (%s): %d files, %d rows → %d daily rows, %s..%s", name, result["format"],
             result["files"], result["rows_read"], result["rows_written"], result["first_day"], result["last_day"])
    return result
