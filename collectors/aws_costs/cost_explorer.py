"""Cost Explorer ``GetCostAndUsage`` → ``costs`` rows, one exact cell of spend each, and the date
ranges a run still needs (see the package docstring)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from cadence.core.allocation import Allocator
from cadence.core.errors import SourceError
from collectors.aws_costs.calls import Meter, call_api
from collectors.aws_costs.settings import PROVIDER, SOURCE, AwsSettings

METRICS = ("AmortizedCost", "UnblendedCost", "UsageQuantity")
ACCOUNT_SERVICE = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                   {"Type": "DIMENSION", "Key": "SERVICE"}]

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
        page = call_api(ce, "get_cost_and_usage", meter, **kwargs)
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
