"""AWS cost and utilization: Cost Explorer, Savings Plans/reservation utilization, CloudWatch.

APIs (boto3; clients built from a ``boto3.Session`` so the standard credential chain and
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` apply with no Cadence-specific option):

- ``ce:GetCostAndUsage`` DAILY, metrics AmortizedCost → ``effective_cost``, UnblendedCost →
  ``billed_cost``, UsageQuantity → ``consumed_quantity``, grouped by LINKED_ACCOUNT and SERVICE.
  With a team tag configured (``[sources.aws] team_tag``) one request grouped by that TAG finds the
  tag values with spend (keys come back as ``team$value``; ``team$`` is untagged), then one
  LINKED_ACCOUNT × SERVICE request per value (``Filter.Tags`` EQUALS) and one for untagged spend
  (``Filter.Tags`` MatchOptions ABSENT). Every stored row is then one exact cell of the spend
  (day × account × service × tag value): nothing is counted twice and nothing is estimated by
  proportion. boto3 has no paginator for this call: ``NextPageToken`` is looped by hand.
- ``ce:GetSavingsPlansUtilization``/``Coverage`` and ``ce:GetReservationUtilization``/``Coverage``
  DAILY → ``commitments``. Emulators often lack these (moto does): a part whose endpoint says it
  does not implement a call (HTTP 501, ``NotImplemented``-like codes, "not implemented" text, or
  moto's bare 500 for exactly these calls) is skipped with a warning, not retried, and recorded in
  ``sync_state``; the other parts are written and the run succeeds.
- ``ec2:DescribeInstances``/``DescribeInstanceTypes``, ``ecs:List*``/``Describe*`` and
  ``cloudwatch:ListMetrics``/``GetMetricData`` (hourly averages, up to 500 queries a call) →
  ``utilization`` with daily avg and p95 of the hourly values, as fractions of capacity.

Tables: ``costs`` (source ``aws-cost-explorer``), ``commitments``, ``utilization``, ``sync_state``.

Incremental, because every Cost Explorer request costs USD 0.01: the ``costs`` cursor is the first
day not yet final (``Estimated`` false); a run fetches only the days before the history already
held (when the lookback grew) and from that cursor to yesterday. Re-fetched days replace their old
rows (delete + insert in the same transaction as the cursor), so a group that vanished from an
estimate leaves nothing behind and two runs never duplicate.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from cadence.core.allocation import Allocator
from cadence.core.clock import utcnow
from cadence.core.config import Config
from cadence.core.errors import CadenceError, ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from warehouse import (
    read_cursor,
    record_sync_error,
    record_sync_skipped,
    upsert_rows,
    write_connection,
    write_cursor,
)
from warehouse.state import read_details

log = logging.getLogger(__name__)

SOURCE = "aws-cost-explorer"
PROVIDER = "AWS"
CE_REQUEST_USD = 0.01
MAX_LOOKBACK_MONTHS = 13
MAX_METRIC_QUERIES = 500
PARTS = ("costs", "commitments", "utilization")
COMMITMENT_SETTLE_DAYS = 3     # commitment figures of the last few days are fetched again
METRICS = ("AmortizedCost", "UnblendedCost", "UsageQuantity")
ACCOUNT_SERVICE = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                   {"Type": "DIMENSION", "Key": "SERVICE"}]

# IAM action behind each API operation, named in AccessDenied messages.
IAM_ACTIONS = {
    "get_cost_and_usage": "ce:GetCostAndUsage",
    "get_savings_plans_utilization": "ce:GetSavingsPlansUtilization",
    "get_savings_plans_coverage": "ce:GetSavingsPlansCoverage",
    "get_reservation_utilization": "ce:GetReservationUtilization",
    "get_reservation_coverage": "ce:GetReservationCoverage",
    "get_metric_data": "cloudwatch:GetMetricData",
    "list_metrics": "cloudwatch:ListMetrics",
    "describe_instances": "ec2:DescribeInstances",
    "describe_instance_types": "ec2:DescribeInstanceTypes",
    "list_clusters": "ecs:ListClusters",
    "list_services": "ecs:ListServices",
    "describe_services": "ecs:DescribeServices",
    "describe_task_definition": "ecs:DescribeTaskDefinition",
}
PAID_OPERATIONS = {op for op, action in IAM_ACTIONS.items() if action.startswith("ce:")}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                 "UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}
THROTTLED = {"Throttling", "ThrottlingException", "LimitExceededException", "RequestLimitExceeded",
             "TooManyRequestsException"}
# How emulators and proxies (LocalStack, gateways) say "this endpoint has no such operation"; AWS
# itself implements every operation used here. A bare 500 is never read as one of these.
NOT_IMPLEMENTED_CODES = {"NotImplemented", "NotImplementedException", "UnknownOperationException",
                         "InvalidAction"}
NOT_IMPLEMENTED_TEXT = re.compile(r"not\s+(?:yet\s+)?(?:been\s+)?implemented|NotImplementedError", re.I)
# moto (5.2.5 and before) has no Savings Plans / reservation calls and answers them with Werkzeug's
# bare HTML "500 Internal Server Error" page, which says nothing; that page counts as "not
# implemented" only for these operations, only off AWS's own hosts, and only when the endpoint
# answers moto's /moto-api/config (a moto server saying what it is).
MOTO_LACKS = {"get_savings_plans_utilization", "get_savings_plans_coverage", "get_reservation_utilization",
              "get_reservation_coverage"}
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

# FOCUS ServiceCategory for the Cost Explorer SERVICE names that hold compute (utilization joins).
SERVICE_CATEGORIES = {
    "Amazon Elastic Compute Cloud - Compute": "Compute",
    "EC2 - Other": "Compute",
    "Amazon Elastic Container Service": "Compute",
    "Amazon Elastic Container Service for Kubernetes": "Compute",
    "Amazon Elastic Kubernetes Service": "Compute",
    "AWS Lambda": "Compute",
    "AWS Fargate": "Compute",
    "Amazon Relational Database Service": "Databases",
    "Amazon DynamoDB": "Databases",
    "Amazon ElastiCache": "Databases",
    "Amazon Simple Storage Service": "Storage",
    "Amazon Elastic File System": "Storage",
    "Amazon CloudFront": "Networking",
    "Amazon Virtual Private Cloud": "Networking",
    "Elastic Load Balancing": "Networking",
    "AmazonCloudWatch": "Management and Governance",
}


# -- settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AwsSettings:
    team_tag: str | None = None
    lookback_months: int = MAX_LOOKBACK_MONTHS
    cloudwatch_regions: tuple[str, ...] = ("us-east-1",)
    utilization_days: int = 30


def aws_settings(config: Config, lookback_months: int | None = None) -> AwsSettings:
    """``[sources.aws]`` validated; ``lookback_months`` (e.g. from the CLI) overrides the file."""
    raw = config.source("aws")
    where = f"{config.path}: " if config.path else ""
    known = {"team_tag", "lookback_months", "cloudwatch_regions", "utilization_days",
             "athena"}   # athena: [sources.aws.athena], read by collectors/aws_exports/athena.py
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}sources.aws.{unknown[0]}: unknown key; expected {', '.join(sorted(known))}")
    team_tag = raw.get("team_tag")
    if team_tag is not None and (not isinstance(team_tag, str) or not team_tag.strip()):
        raise ConfigError(f"{where}sources.aws.team_tag: must be a tag key such as \"team\", got {team_tag!r}")
    months = lookback_months if lookback_months is not None else raw.get("lookback_months", MAX_LOOKBACK_MONTHS)
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise ConfigError(f"{where}sources.aws.lookback_months: must be a whole number of months, got {months!r}")
    if months > MAX_LOOKBACK_MONTHS:
        raise ConfigError(
            f"Cost Explorer keeps {MAX_LOOKBACK_MONTHS} months of history plus the current month; "
            f"lookback_months = {months} asks for more. Set it to {MAX_LOOKBACK_MONTHS} or less, and load "
            f"older spend from a CUR or FOCUS export with `cadence ingest costs`.")
    regions = raw.get("cloudwatch_regions", ["us-east-1"])
    if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        raise ConfigError(f"{where}sources.aws.cloudwatch_regions: must be a list of region names, got {regions!r}")
    days = raw.get("utilization_days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 455:
        raise ConfigError(f"{where}sources.aws.utilization_days: must be 1 to 455 days, got {days!r}")
    return AwsSettings(team_tag=team_tag.strip() if team_tag else None, lookback_months=months,
                       cloudwatch_regions=tuple(regions), utilization_days=days)


def window_start(today: date, lookback_months: int) -> date:
    """The first day Cost Explorer is asked for: the 1st of the month ``lookback_months`` back."""
    index = today.year * 12 + today.month - 1 - lookback_months
    return date(index // 12, index % 12 + 1, 1)


# -- clients and calls ----------------------------------------------------------------------------

class EndpointNotImplementedError(SourceError):
    """The endpoint (an emulator or proxy, never AWS itself) does not implement an operation; the
    part that needs it is skipped with a warning instead of failing the run."""

    def __init__(self, endpoint: str, operation: str, answer: str):
        self.endpoint, self.operation, self.answer = endpoint, operation, answer
        super().__init__(f"The endpoint at {endpoint} does not implement {operation} ({answer}).")


@functools.lru_cache(maxsize=16)
def _is_moto_server(base_url: str) -> bool:
    """Whether ``base_url`` is a moto server: it answers ``GET /moto-api/config`` with JSON."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/moto-api/config", timeout=3) as reply:
            return 200 <= reply.status < 300 and isinstance(json.loads(reply.read(65536)), dict)
    except (OSError, ValueError):
        return False


def endpoint_lacks(endpoint_url: str, operation: str, status: int | None, code: str, message: str,
                   headers: dict | None = None) -> str | None:
    """What in an error answer says the endpoint does not implement ``operation`` (a short
    description for messages), or None when it is any other error, including a bare 500."""
    if status == 501:
        return f"HTTP 501 {code}".strip()
    if code in NOT_IMPLEMENTED_CODES:
        return code
    if NOT_IMPLEMENTED_TEXT.search(message or ""):
        return f"{code or status}: not implemented"
    host = (urlsplit(endpoint_url).hostname or "").lower()
    html = "text/html" in str((headers or {}).get("content-type", "")).lower()
    if (status == 500 and html and operation in MOTO_LACKS and not host.endswith(AWS_HOST_SUFFIXES)
            and _is_moto_server(endpoint_url)):
        return "HTTP 500 from a moto server, which has no such operation"
    return None


def _no_retry_when_not_implemented(response=None, operation=None, request_dict=None, **_) -> bool | None:
    """botocore ``needs-retry`` hook, run before the standard retry handler: an answer saying the
    operation is not implemented will say so again, so it is not retried (``False`` stops the
    retries; ``None`` leaves the decision to botocore's standard mode)."""
    from botocore import xform_name

    if not response or operation is None:
        return None
    http, parsed = response
    if http.status_code < 400:
        return None
    error = (parsed or {}).get("Error", {})
    url = (request_dict or {}).get("url", "")
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if endpoint_lacks(base, xform_name(operation.name), http.status_code, error.get("Code", ""),
                      error.get("Message", ""), {k.lower(): v for k, v in http.headers.items()}):
        return False
    return None


def make_client(session, service: str, region: str | None = None, *, max_attempts: int = 8):
    """A boto3 client with botocore's standard retry mode: throttling (including Cost Explorer's
    LimitExceededException) and transient errors are retried with exponential backoff and jitter,
    up to ``max_attempts`` attempts, before the error reaches ``_call``; an answer saying the
    endpoint does not implement the operation is not retried."""
    from botocore.config import Config as BotoConfig

    cfg = BotoConfig(retries={"total_max_attempts": max_attempts, "mode": "standard"}, connect_timeout=10,
                     read_timeout=60, user_agent_extra="cadence")
    client = session.client(service, region_name=region, config=cfg)
    client.meta.events.register_first(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}",
                                      _no_retry_when_not_implemented)
    return client


def default_session():
    import boto3

    return boto3.Session()


@dataclass
class Meter:
    """Counts the paid Cost Explorer requests of a run (each page is one request)."""

    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def cost_usd(self) -> float:
        return round(self.requests * CE_REQUEST_USD, 2)


def _call(client, operation: str, meter: Meter | None = None, **kwargs) -> dict:
    """One API call, with every failure turned into a named Cadence error that says what to do.

    Throttling was already retried by botocore (standard mode); reaching here means it persisted.
    An endpoint that does not implement the operation raises ``EndpointNotImplementedError``.
    """
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    action = IAM_ACTIONS.get(operation, operation)
    try:
        response = getattr(client, operation)(**kwargs)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise SourceAuthError(
            "No AWS credentials found; set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run where an IAM role is available, then run the sync again."
        ) from exc
    except EndpointConnectionError as exc:
        raise SourceError(f"Cannot reach the AWS endpoint for {action} ({exc.kwargs.get('endpoint_url')}); "
                          f"check the network and AWS_ENDPOINT_URL if you set one.") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        text = exc.response.get("Error", {}).get("Message", "")
        if code in ACCESS_DENIED:
            raise SourceAuthError(
                f"AWS denied {action} ({code}): grant the IAM permission {action} to these credentials "
                f"(see README, AWS costs). Nothing was written, so no cost is shown as $0.") from exc
        if code in THROTTLED:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            raise SourceRateLimitError(
                f"AWS kept throttling {action} after {attempts} attempts with backoff ({code}); "
                f"run the sync again in a few minutes: it resumes from its cursor.") from exc
        meta = exc.response.get("ResponseMetadata", {})
        lacks = endpoint_lacks(client.meta.endpoint_url, operation, meta.get("HTTPStatusCode"), code, text,
                               meta.get("HTTPHeaders"))
        if lacks:
            raise EndpointNotImplementedError(client.meta.endpoint_url,
                                              client.meta.method_to_api_mapping.get(operation, operation),
                                              lacks) from exc
        # Error bodies from proxies and fakes can be HTML pages: keep one short line of text.
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text or "")).strip()[:200]
        raise SourceError(f"AWS {action} failed: {code}: {text}") from exc
    if meter is not None and operation in PAID_OPERATIONS:
        meter.requests += 1
        meter.by_operation[operation] += 1
    return response


# -- Cost Explorer --------------------------------------------------------------------------------

def parse_tag_key(key: str) -> str:
    """``team$payments`` → ``payments``; ``team$`` (no tag) → ``''``."""
    return key.split("$", 1)[1] if "$" in key else key


def iter_cost_and_usage(ce, meter: Meter, start: date, end: date, group_by: list[dict],
                        filter_: dict | None = None) -> Iterator[list[dict]]:
    """``ResultsByTime`` of [start, end) a page at a time, following ``NextPageToken``."""
    kwargs: dict[str, Any] = {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                              "Granularity": "DAILY", "Metrics": list(METRICS), "GroupBy": group_by}
    if filter_:
        kwargs["Filter"] = filter_
    token = None
    while True:
        if token:
            kwargs["NextPageToken"] = token
        page = _call(ce, "get_cost_and_usage", meter, **kwargs)
        yield page.get("ResultsByTime", [])
        token = page.get("NextPageToken")
        if not token:
            return


def _amount(metrics: dict, name: str) -> float:
    value = float((metrics.get(name) or {}).get("Amount") or 0.0)
    if not math.isfinite(value):
        raise SourceError(f"Cost Explorer returned a non-finite {name} ({value}); run the sync again later.")
    return value


@dataclass
class CostFetch:
    rows: list[dict]
    first_estimated: date | None


def fetch_costs(ce, meter: Meter, start: date, end: date, settings: AwsSettings,
                allocator: Allocator) -> CostFetch:
    """The cost rows of [start, end) and the first day still estimated (None when all final)."""
    queries: list[tuple[str, dict | None]] = []
    if settings.team_tag:
        key = settings.team_tag
        totals: dict[str, float] = defaultdict(float)
        for page in iter_cost_and_usage(ce, meter, start, end, [{"Type": "TAG", "Key": key}]):
            for result in page:
                for group in result.get("Groups", []):
                    value = parse_tag_key(group["Keys"][0])
                    m = group.get("Metrics", {})
                    totals[value] += abs(_amount(m, "UnblendedCost")) + abs(_amount(m, "AmortizedCost")) \
                        + abs(_amount(m, "UsageQuantity"))
        for value in sorted(v for v, t in totals.items() if v and t > 0):
            queries.append((value, {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}))
        if totals.get("", 0) > 0:
            queries.append(("", {"Tags": {"Key": key, "MatchOptions": ["ABSENT"]}}))
    else:
        queries.append(("", None))

    rows: list[dict] = []
    estimated_days: set[date] = set()
    for tag_value, filter_ in queries:
        for page in iter_cost_and_usage(ce, meter, start, end, ACCOUNT_SERVICE, filter_):
            for result in page:
                day = date.fromisoformat(result["TimePeriod"]["Start"])
                estimated = bool(result.get("Estimated", False))
                if estimated:
                    estimated_days.add(day)
                for group in result.get("Groups", []):
                    account, service = (group["Keys"] + ["", ""])[:2]
                    m = group.get("Metrics", {})
                    rows.append({
                        "charge_date": day, "source": SOURCE, "provider": PROVIDER,
                        "billing_account_id": "", "sub_account_id": account, "service_name": service,
                        "region": "", "resource_id": "", "allocation_tag": tag_value,
                        "service_category": SERVICE_CATEGORIES.get(service),
                        "tags": json.dumps({settings.team_tag: tag_value}) if settings.team_tag and tag_value else None,
                        "team": allocator.team(tag_value, (account,), service),
                        "billed_cost": _amount(m, "UnblendedCost"),
                        "effective_cost": _amount(m, "AmortizedCost"),
                        "list_cost": None,
                        "consumed_quantity": _amount(m, "UsageQuantity"),
                        "consumed_unit": (m.get("UsageQuantity") or {}).get("Unit") or None,
                        "currency": (m.get("UnblendedCost") or {}).get("Unit") or "USD",
                        "estimated": estimated,
                    })
    for row in rows:
        if not start <= row["charge_date"] < end:
            raise SourceError(f"Cost Explorer returned {row['charge_date']} outside the asked range "
                              f"{start}..{end}; nothing was written.")
        row["estimated"] = row["estimated"] or row["charge_date"] in estimated_days
    return CostFetch(rows=rows, first_estimated=min(estimated_days) if estimated_days else None)


def plan_ranges(details: dict, cursor: str | None, first: date, today: date) -> list[tuple[date, date]]:
    """The [start, end) ranges still to fetch: history before what is held, then the cursor on."""
    if not cursor or not details.get("fetched_from"):
        return [(first, today)] if first < today else []
    held_from = date.fromisoformat(details["fetched_from"])
    final_before = date.fromisoformat(cursor)
    ranges = []
    if first < held_from:
        ranges.append((first, min(held_from, today)))
    tail = max(final_before, first)
    if tail < today:
        if ranges and ranges[-1][1] >= tail:
            ranges[-1] = (ranges[-1][0], today)
        else:
            ranges.append((tail, today))
    return ranges


# -- commitments ----------------------------------------------------------------------------------

def _fraction(value) -> float | None:
    if value in (None, ""):
        return None
    return float(value) / 100.0


def _tolerate_no_data(fn):
    """Accounts without Savings Plans or reservations get DataUnavailableException: no rows."""
    from botocore.exceptions import ClientError

    try:
        return fn()
    except SourceError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "DataUnavailableException":
            return None
        raise


def fetch_commitments(ce, meter: Meter, start: date, end: date) -> list[dict]:
    """Daily Savings Plans and reservation utilization and coverage (fractions) for [start, end)."""
    period = {"Start": start.isoformat(), "End": end.isoformat()}
    found: dict[tuple[date, str], dict] = {}

    def put(day: str, kind: str, key: str, value) -> None:
        d = date.fromisoformat(day)
        if not start <= d < end:
            return
        row = found.setdefault((d, kind), {"date": d, "provider": PROVIDER, "kind": kind,
                                           "utilization": None, "coverage": None})
        row[key] = _fraction(value)

    sp = _tolerate_no_data(lambda: _call(ce, "get_savings_plans_utilization", meter,
                                         TimePeriod=period, Granularity="DAILY"))
    for item in (sp or {}).get("SavingsPlansUtilizationsByTime", []):
        put(item["TimePeriod"]["Start"], "savings_plan", "utilization",
            item.get("Utilization", {}).get("UtilizationPercentage"))

    token = None
    while True:
        kw = {"TimePeriod": period, "Granularity": "DAILY", **({"NextToken": token} if token else {})}
        page = _tolerate_no_data(lambda kw=kw: _call(ce, "get_savings_plans_coverage", meter, **kw))
        for item in (page or {}).get("SavingsPlansCoverages", []):
            put(item["TimePeriod"]["Start"], "savings_plan", "coverage",
                item.get("Coverage", {}).get("CoveragePercentage"))
        token = (page or {}).get("NextToken")
        if not token:
            break

    for operation, list_key, value_of, column in (
        ("get_reservation_utilization", "UtilizationsByTime",
         lambda i: i.get("Total", {}).get("UtilizationPercentage"), "utilization"),
        ("get_reservation_coverage", "CoveragesByTime",
         lambda i: i.get("Total", {}).get("CoverageHours", {}).get("CoverageHoursPercentage"), "coverage"),
    ):
        token = None
        while True:
            kw = {"TimePeriod": period, "Granularity": "DAILY", **({"NextPageToken": token} if token else {})}
            page = _tolerate_no_data(lambda kw=kw, op=operation: _call(ce, op, meter, **kw))
            for item in (page or {}).get(list_key, []):
                put(item["TimePeriod"]["Start"], "reservation", column, value_of(item))
            token = (page or {}).get("NextPageToken")
            if not token:
                break
    # A kind with neither figure on a day (no commitment of that kind) is not a row.
    return [r for r in found.values() if r["utilization"] is not None or r["coverage"] is not None]


# -- CloudWatch utilization -----------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    resource: str
    service: str
    team: str
    metric: str                    # cpu / memory
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    capacity: float | None


def _tag_team(tags: dict[str, str], settings: AwsSettings, allocator: Allocator) -> str:
    value = tags.get(settings.team_tag, "") if settings.team_tag else ""
    return allocator.team(value, (), None)


def discover_ec2(ec2, cloudwatch, settings: AwsSettings, allocator: Allocator) -> list[Resource]:
    """Running and stopped EC2 instances: CPU always, memory where the CloudWatch agent publishes it."""
    instances = {}
    token = None
    while True:
        kw = {"Filters": [{"Name": "instance-state-name", "Values": ["running", "stopped"]}],
              **({"NextToken": token} if token else {})}
        page = _call(ec2, "describe_instances", **kw)
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                instances[inst["InstanceId"]] = inst
        token = page.get("NextToken")
        if not token:
            break
    if not instances:
        return []
    types = sorted({i["InstanceType"] for i in instances.values()})
    vcpus, gib = {}, {}
    for i in range(0, len(types), 100):
        page = _call(ec2, "describe_instance_types", InstanceTypes=types[i:i + 100])
        for t in page.get("InstanceTypes", []):
            vcpus[t["InstanceType"]] = t.get("VCpuInfo", {}).get("DefaultVCpus")
            mib = t.get("MemoryInfo", {}).get("SizeInMiB")
            gib[t["InstanceType"]] = mib / 1024 if mib else None
    memory_dims: dict[str, tuple] = {}
    token = None
    while True:
        kw = {"Namespace": "CWAgent", "MetricName": "mem_used_percent", **({"NextToken": token} if token else {})}
        page = _call(cloudwatch, "list_metrics", **kw)
        for metric in page.get("Metrics", []):
            dims = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            instance = dict(dims).get("InstanceId")
            if instance in instances and instance not in memory_dims:
                memory_dims[instance] = dims
        token = page.get("NextToken")
        if not token:
            break
    out = []
    for iid, inst in sorted(instances.items()):
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        team = _tag_team(tags, settings, allocator)
        service = "Amazon Elastic Compute Cloud - Compute"
        out.append(Resource(iid, service, team, "cpu", "AWS/EC2", "CPUUtilization",
                            (("InstanceId", iid),), vcpus.get(inst["InstanceType"])))
        if iid in memory_dims:
            out.append(Resource(iid, service, team, "memory", "CWAgent", "mem_used_percent",
                                memory_dims[iid], gib.get(inst["InstanceType"])))
    return out


def discover_ecs(ecs, settings: AwsSettings, allocator: Allocator) -> list[Resource]:
    """ECS services: CPU and memory utilization against the reserved task size × desired count."""
    clusters, token = [], None
    while True:
        page = _call(ecs, "list_clusters", **({"nextToken": token} if token else {}))
        clusters += page.get("clusterArns", [])
        token = page.get("nextToken")
        if not token:
            break
    out, task_defs = [], {}
    for cluster_arn in clusters:
        cluster = cluster_arn.rsplit("/", 1)[-1]
        arns, token = [], None
        while True:
            page = _call(ecs, "list_services", cluster=cluster_arn, **({"nextToken": token} if token else {}))
            arns += page.get("serviceArns", [])
            token = page.get("nextToken")
            if not token:
                break
        for i in range(0, len(arns), 10):
            described = _call(ecs, "describe_services", cluster=cluster_arn, services=arns[i:i + 10],
                              include=["TAGS"])
            for svc in described.get("services", []):
                td_arn = svc.get("taskDefinition")
                if td_arn and td_arn not in task_defs:
                    task_defs[td_arn] = _call(ecs, "describe_task_definition",
                                              taskDefinition=td_arn).get("taskDefinition", {})
                td = task_defs.get(td_arn, {})
                count = svc.get("desiredCount") or 0
                cpu_units = float(td["cpu"]) if td.get("cpu") else None
                mem_mib = float(td["memory"]) if td.get("memory") else None
                tags = {t["key"]: t["value"] for t in svc.get("tags", [])}
                team = _tag_team(tags, settings, allocator)
                name = svc["serviceName"]
                resource = f"ecs:{cluster}/{name}"
                dims = (("ClusterName", cluster), ("ServiceName", name))
                out.append(Resource(resource, "Amazon Elastic Container Service", team, "cpu", "AWS/ECS",
                                    "CPUUtilization", dims, cpu_units / 1024 * count if cpu_units else None))
                out.append(Resource(resource, "Amazon Elastic Container Service", team, "memory", "AWS/ECS",
                                    "MemoryUtilization", dims, mem_mib / 1024 * count if mem_mib else None))
    return out


def fetch_utilization(cloudwatch, resources: list[Resource], start: date, end: date) -> list[dict]:
    """Daily avg and p95 of the hourly averages of each resource's metric for [start, end).

    Values are percentages in CloudWatch; stored as fractions capped to 0..1 (an ECS service may
    run above its reservation, but cost of idle cannot go below zero).
    """
    hourly: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
    t1 = datetime(end.year, end.month, end.day, tzinfo=UTC)
    for i in range(0, len(resources), MAX_METRIC_QUERIES):
        batch = resources[i:i + MAX_METRIC_QUERIES]
        queries = [{"Id": f"q{i + j}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": r.namespace, "MetricName": r.metric_name,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in r.dimensions]},
            "Period": 3600, "Stat": "Average"}} for j, r in enumerate(batch)]
        token = None
        while True:
            kw = {"MetricDataQueries": queries, "StartTime": t0, "EndTime": t1,
                  **({"NextToken": token} if token else {})}
            page = _call(cloudwatch, "get_metric_data", **kw)
            for result in page.get("MetricDataResults", []):
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    if value is None:
                        continue
                    day = ts.astimezone(UTC).date() if ts.tzinfo else ts.date()
                    if start <= day < end:
                        hourly[result["Id"]][day].append(float(value))
            token = page.get("NextToken")
            if not token:
                break
    rows = []
    for n, r in enumerate(resources):
        for day, values in sorted(hourly.get(f"q{n}", {}).items()):
            arr = np.clip(np.asarray(values) / 100.0, 0.0, 1.0)
            rows.append({"date": day, "provider": PROVIDER, "resource": r.resource, "service": r.service,
                         "team": r.team, "metric": r.metric, "avg": round(float(arr.mean()), 6),
                         "p95": round(float(np.percentile(arr, 95)), 6), "capacity": r.capacity})
    return rows


# -- the sync -------------------------------------------------------------------------------------

@dataclass
class SyncReport:
    paid_requests: int = 0
    cost_usd: float = 0.0
    cost_rows: int = 0
    cost_ranges: list[tuple[date, date]] = field(default_factory=list)
    estimated_from: date | None = None
    commitment_rows: int = 0
    utilization_rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)   # part scope → why (endpoint lacks a call)

    def lines(self) -> list[str]:
        ranges = ", ".join(f"{a}..{b - timedelta(days=1)}" for a, b in self.cost_ranges) or "none (up to date)"
        out = [f"Cost Explorer: {self.paid_requests} paid requests (USD {self.cost_usd:.2f} at "
               f"USD {CE_REQUEST_USD:.2f} each)",
               f"costs: {self.cost_rows} rows for {ranges}"]
        if self.estimated_from:
            out.append(f"costs: days from {self.estimated_from} are still estimated; the next run fetches them again")
        commitments = ("skipped (the endpoint lacks the calls)" if "commitments" in self.skipped
                       else f"{self.commitment_rows} rows")
        utilization = f"{self.utilization_rows} rows" + (
            f" ({', '.join(s for s in self.skipped if s.startswith('utilization'))} skipped)"
            if any(s.startswith("utilization") for s in self.skipped) else "")
        out.append(f"commitments: {commitments}; utilization: {utilization}")
        return out


def sync(db_path: str | Path, config: Config, *, session=None, ce_client=None, today: date | None = None,
         parts: tuple[str, ...] = PARTS, lookback_months: int | None = None,
         clients: dict[str, Any] | None = None) -> SyncReport:
    """Fetch what is missing or still estimated, then write each part in one short transaction.

    ``session``/``ce_client``/``clients`` let tests (and callers) supply boto3 objects; by default
    a plain ``boto3.Session()`` (standard chain, endpoint variables) builds them. Each part is
    all-or-nothing: fetched first, validated, then written with its cursor.
    """
    settings = aws_settings(config, lookback_months)
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ConfigError(f"Unknown part {bad[0]!r}; choose from {', '.join(PARTS)}.")
    today = today or utcnow().date()   # CADENCE_NOW pins it
    clients = dict(clients or {})
    session = session if session is not None else default_session()
    if ce_client is None and ({"costs", "commitments"} & set(parts)):
        ce_client = make_client(session, "ce", "us-east-1")  # Cost Explorer's one endpoint
    allocator = Allocator(config)
    meter = Meter()
    report = SyncReport()
    with write_connection(db_path) as con:
        cost_cursor = read_cursor(con, SOURCE, "costs")
        cost_details = read_details(con, SOURCE, "costs")
        commit_cursor = read_cursor(con, SOURCE, "commitments")
        commit_details = read_details(con, SOURCE, "commitments")
        util_state = {r: (read_cursor(con, SOURCE, f"utilization:{r}"))
                      for r in settings.cloudwatch_regions}
    first = window_start(today, settings.lookback_months)

    failures: list[tuple[str, Exception]] = []

    def guarded(scope: str, fn, empty):
        """Run one part; a failure is recorded and the other parts still run (each is all or
        nothing), except missing or refused credentials, which would fail every part alike. A part
        whose endpoint does not implement a call it needs is skipped: one warning, recorded in
        ``sync_state`` for the Data health page, and the run does not fail for it."""
        try:
            return fn()
        except EndpointNotImplementedError as exc:
            why = (f"the endpoint at {exc.endpoint} does not implement {exc.operation}: {scope.split(':')[0]} "
                   f"skipped ({exc.answer}; nothing written for it). AWS itself implements it: point "
                   f"AWS_ENDPOINT_URL at AWS, or at an emulator that has it, to sync {scope}.")
            log.warning("aws %s: %s", scope, why)
            with write_connection(db_path) as con:
                record_sync_skipped(con, SOURCE, scope, why)
            report.skipped[scope] = why
            return empty
        except CadenceError as exc:
            log.warning("aws %s failed: nothing written for it", scope)
            with write_connection(db_path) as con:
                record_sync_error(con, SOURCE, scope, str(exc))
            failures.append((scope, exc))
            if isinstance(exc, SourceAuthError):
                _raise_failures(failures, meter, report)
            return empty

    if "costs" in parts:
        ranges = plan_ranges(cost_details, cost_cursor, first, today)

        def do_costs():
            rows, first_est = [], None
            for a, b in ranges:
                got = fetch_costs(ce_client, meter, a, b, settings, allocator)
                rows += got.rows
                if got.first_estimated and (first_est is None or got.first_estimated < first_est):
                    first_est = got.first_estimated
            if not ranges:
                return 0, None
            held_from = min([first] + ([date.fromisoformat(cost_details["fetched_from"])]
                                       if cost_details.get("fetched_from") else []))
            cursor = first_est or today
            with write_connection(db_path) as con:
                for a, b in ranges:
                    con.execute("DELETE FROM costs WHERE source = ? AND charge_date >= ? AND charge_date < ?",
                                [SOURCE, a, b])
                n = upsert_rows(con, "costs", rows)
                write_cursor(con, SOURCE, "costs", cursor.isoformat(), rows_written=n,
                             details={"fetched_from": held_from.isoformat(),
                                      "paid_requests": meter.by_operation.get("get_cost_and_usage", 0)})
            return n, first_est

        report.cost_rows, report.estimated_from = guarded("costs", do_costs, (0, None))
        report.cost_ranges = ranges
        log.info("aws costs: %d rows over %d range(s), estimated from %s", report.cost_rows, len(ranges),
                 report.estimated_from)

    if "commitments" in parts:
        settle = today - timedelta(days=COMMITMENT_SETTLE_DAYS)
        ranges = plan_ranges(commit_details, commit_cursor, first, today)

        def do_commitments():
            rows = []
            for a, b in ranges:
                rows += fetch_commitments(ce_client, meter, a, b)
            if not ranges:
                return 0
            held_from = min([first] + ([date.fromisoformat(commit_details["fetched_from"])]
                                       if commit_details.get("fetched_from") else []))
            with write_connection(db_path) as con:
                for a, b in ranges:
                    con.execute("DELETE FROM commitments WHERE provider = ? AND date >= ? AND date < ?",
                                [PROVIDER, a, b])
                n = upsert_rows(con, "commitments", rows)
                write_cursor(con, SOURCE, "commitments", max(settle, first).isoformat(), rows_written=n,
                             details={"fetched_from": held_from.isoformat()})
            return n

        report.commitment_rows = guarded("commitments", do_commitments, 0)

    if "utilization" in parts:
        for region in settings.cloudwatch_regions:
            cursor = util_state[region]
            start = max(date.fromisoformat(cursor) if cursor else date.min,
                        today - timedelta(days=settings.utilization_days))
            if start >= today:
                continue

            def do_region(region=region, start=start):
                cw = clients.get(f"cloudwatch:{region}") or make_client(session, "cloudwatch", region)
                ec2 = clients.get(f"ec2:{region}") or make_client(session, "ec2", region)
                ecs = clients.get(f"ecs:{region}") or make_client(session, "ecs", region)
                resources = discover_ec2(ec2, cw, settings, allocator) + discover_ecs(ecs, settings, allocator)
                rows = fetch_utilization(cw, resources, start, today)
                with write_connection(db_path) as con:
                    n = upsert_rows(con, "utilization", rows)
                    write_cursor(con, SOURCE, f"utilization:{region}", today.isoformat(), rows_written=n,
                                 details={"resources": len(resources)})
                log.info("aws utilization %s: %d resources, %d rows from %s", region, len(resources), n, start)
                return n

            report.utilization_rows += guarded(f"utilization:{region}", do_region, 0)

    report.paid_requests = meter.requests
    report.cost_usd = meter.cost_usd
    if failures:
        _raise_failures(failures, meter, report)
    return report


def _raise_failures(failures: list[tuple[str, Exception]], meter: Meter, report: SyncReport):
    """Raise the first failure (its own type), naming the paid requests and the other failed parts;
    the report of what did succeed rides along as ``exc.report`` for the CLI to print."""
    report.paid_requests, report.cost_usd = meter.requests, meter.cost_usd
    scope, first = failures[0]
    others = ", ".join(s for s, _ in failures[1:])
    note = f" (This run made {meter.requests} paid Cost Explorer requests, USD {meter.cost_usd:.2f}" + \
        (f"; {others} failed too" if others else "") + ".)"
    exc = type(first)(f"{first}{note}" if meter.requests or others else str(first))
    exc.report = report
    raise exc from first
