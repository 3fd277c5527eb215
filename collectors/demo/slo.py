"""Demo SLOs and their hourly SLIs for the Brightcart demo (collectors/demo/).

``build_demo`` stores ``demo_slos()`` (the ``[[slos]]`` entries) in the demo's configuration and
``sli_rows(...)`` (the ``sli_hours`` rows) in the warehouse, both deterministic in the seed.

The story the rows tell, on top of the demo's own incidents:
* every service serves traffic with a daily curve, quieter weekends and the retail season;
* a small background error rate keeps healthy services well inside their budgets;
* while an incident of the service is open, errors rise with its severity, so the budgets burn
  where the demo's change failures are;
* fulfilment (struggling: long incidents, a weekly release train) runs a higher background error
  rate on ``orders`` and overspends its budget, while its release train keeps deploying;
* ``search-api`` (catalog) degrades over the demo's last two days and burns fast in its last hours.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

SOURCE = "demo"

# name, service, objective (percent), window days, requests per hour at the daily peak,
# background share of bad events
DEMO_SLOS: tuple[tuple[str, str, float, int, int, float], ...] = (
    ("edge-gateway-availability", "edge-gateway", 99.95, 28, 90_000, 0.00008),
    ("identity-availability", "identity", 99.9, 28, 30_000, 0.0002),
    ("storefront-availability", "storefront", 99.9, 28, 40_000, 0.0003),
    ("search-availability", "search-api", 99.9, 28, 25_000, 0.0002),
    ("checkout-availability", "checkout-api", 99.9, 28, 8_000, 0.0003),
    ("payments-availability", "payments", 99.95, 28, 5_000, 0.0001),
    ("orders-availability", "orders", 99.5, 28, 6_000, 0.0052),
    ("shipping-labels-success", "shipping", 99.0, 28, 1_500, 0.004),
)
# share of requests failing while an incident of this severity is open
INCIDENT_ERROR_SHARE = {"sev1": 0.04, "sev2": 0.008, "sev3": 0.002, "sev4": 0.0008}
FAST_BURN = ("search-api", 48, 6, 0.003, 0.02)    # service, degraded hours, worst hours, shares


def demo_slos() -> list[dict]:
    """The demo's ``[[slos]]`` entries (fed by these rows, so without Prometheus selectors)."""
    return [{"name": n, "service": s, "objective": o, "window_days": w} for n, s, o, w, _, _ in DEMO_SLOS]


def _traffic(rng: np.random.Generator, hours: pd.DatetimeIndex, peak: int) -> np.ndarray:
    hour = np.asarray(hours.hour)
    daily = 0.55 + 0.45 * np.cos((hour - 19) / 24 * 2 * np.pi)            # peak 19:00 UTC
    weekend = np.where(np.asarray(hours.day_of_week) >= 5, 0.8, 1.0)
    month, day = np.asarray(hours.month), np.asarray(hours.day)
    season = 1.0 + 0.6 * ((month == 11) & (day >= 20)) + 0.3 * (month == 12)
    return rng.poisson(peak * daily * weekend * season)


def _incident_share(hours: pd.DatetimeIndex, incidents: pd.DataFrame, service: str,
                    end: datetime) -> np.ndarray:
    """Per hour, the error share of the worst incident of ``service`` open in it."""
    share = np.zeros(len(hours))
    starts = hours.values
    for row in incidents[incidents["service"] == service].itertuples(index=False):
        created = np.datetime64(pd.Timestamp(row.created_at).floor("h"))
        resolved = pd.Timestamp(row.resolved_at) if pd.notna(row.resolved_at) else pd.Timestamp(end)
        open_ = (starts >= created) & (starts < np.datetime64(resolved))
        share[open_] = np.maximum(share[open_], INCIDENT_ERROR_SHARE.get(str(row.severity), 0.01))
    return share


def sli_rows(incidents: pd.DataFrame, start: date, days: int, seed: int = 42) -> pd.DataFrame:
    """Hourly ``sli_hours`` rows (slo, hour, good, total, source) for every demo SLO over the
    ``days`` from ``start``; ``incidents`` are the demo's incident rows (service, severity,
    created_at, resolved_at)."""
    rng = np.random.default_rng([seed, 17])
    begin = datetime(start.year, start.month, start.day)
    end = begin + timedelta(days=days)
    hours = pd.date_range(begin, end, freq="h", inclusive="left")
    frames = []
    for name, service, _objective, _window, peak, background in DEMO_SLOS:
        total = _traffic(rng, hours, peak)
        share = np.maximum(background, _incident_share(hours, incidents, service, end))
        if service == FAST_BURN[0]:
            _, degraded, worst, mild, severe = FAST_BURN
            share[-degraded:] = np.maximum(share[-degraded:], mild)
            share[-worst:] = np.maximum(share[-worst:], severe)
        bad = rng.binomial(total, share)
        frames.append(pd.DataFrame({"slo": name, "hour": hours, "good": (total - bad).astype(float),
                                    "total": total.astype(float), "source": SOURCE}))
    return pd.concat(frames, ignore_index=True)
