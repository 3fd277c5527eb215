"""Savings Plans and reservation utilization and coverage (Cost Explorer) → ``commitments``."""

from __future__ import annotations

from datetime import date

from cadence.core.errors import SourceError
from collectors.aws_costs.calls import Meter, call_api
from collectors.aws_costs.settings import PROVIDER


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

    sp = _tolerate_no_data(lambda: call_api(ce, "get_savings_plans_utilization", meter,
                                         TimePeriod=period, Granularity="DAILY"))
    for item in (sp or {}).get("SavingsPlansUtilizationsByTime", []):
        put(item["TimePeriod"]["Start"], "savings_plan", "utilization",
            item.get("Utilization", {}).get("UtilizationPercentage"))

    token = None
    while True:
        kw = {"TimePeriod": period, "Granularity": "DAILY", **({"NextToken": token} if token else {})}
        page = _tolerate_no_data(lambda kw=kw: call_api(ce, "get_savings_plans_coverage", meter, **kw))
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
            page = _tolerate_no_data(lambda kw=kw, op=operation: call_api(ce, op, meter, **kw))
            for item in (page or {}).get(list_key, []):
                put(item["TimePeriod"]["Start"], "reservation", column, value_of(item))
            token = (page or {}).get("NextPageToken")
            if not token:
                break
    # A kind with neither figure on a day (no commitment of that kind) is not a row.
    return [r for r in found.values() if r["utilization"] is not None or r["coverage"] is not None]
