"""End to end: incidents synced from (fake) PagerDuty and deployments posted to the webhook, both
over real HTTP, show up in metrics.dora_metrics / drilldown with the attribution rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import requests

from cadence.core.config import parse_config
from collectors import pagerduty
from collectors.webhook import create_app
from metrics import dora_metrics, drilldown
from tests.support.fake_pagerduty import running
from tests.support.webhook_support import AUTH, TOKEN, serve_app
from warehouse import read_connection


@pytest.fixture
def fake():
    with running() as fake:
        yield fake


def dep(dep_id, service, finished_at, environment="production"):
    return {"id": dep_id, "repo": f"shop/{service}", "service": service, "environment": environment,
            "status": "success", "sha": dep_id.encode().hex().ljust(40, "0")[:40],
            "started_at": finished_at, "finished_at": finished_at}


def test_pagerduty_incidents_attribute_to_webhook_deployments_by_service(fake, db_path):
    config = parse_config({
        "teams": {"payments": {"services": ["api", "billing"]}},
        "sources": {"pagerduty": {"base_url": fake.url, "since": "2026-01-25",
                                  "services": {"PSVC1": "api", "PSVC2": "billing"}}},
    })
    url, stop = serve_app(create_app(db_path, TOKEN))
    try:
        r = requests.post(f"{url}/deployments", headers=AUTH, timeout=30, json=[
            dep("ci:D1", "api", "2026-02-02T10:00:00Z"),
            dep("ci:D2", "api", "2026-02-09T10:00:00Z"),
            dep("ci:B1", "billing", "2026-02-03T12:00:00Z"),
            dep("ci:S1", "api", "2026-02-04T00:00:00Z", environment="staging"),
        ])
        assert r.status_code == 200, r.text
    finally:
        stop()
    # P1 api 02-04 09:00: latest production api deploy before it is D1 (staging S1 does not count)
    fake.add("P1", "2026-02-04T09:00:00Z", service="PSVC1", status="resolved",
             resolved_at="2026-02-04T11:00:00Z")
    # P2 billing 02-05: B1, not the api deployments
    fake.add("P2", "2026-02-05T00:00:00Z", service="PSVC2", status="resolved",
             resolved_at="2026-02-05T06:00:00Z")
    # P3 api 02-20: D2 finished 10.6 days earlier, outside the 7-day window → no deployment
    fake.add("P3", "2026-02-20T00:00:00Z", service="PSVC1", status="resolved",
             resolved_at="2026-02-20T04:00:00Z")
    pagerduty.sync(db_path, config, pagerduty.PagerDutyClient(fake.url, fake.token),
                   now=datetime(2026, 3, 1))

    with read_connection(db_path) as con:
        inc = drilldown(con, config, "incidents", date(2026, 2, 1), date(2026, 2, 28), by="service")
        m = dora_metrics(con, config, date(2026, 2, 1), date(2026, 2, 28), by="service",
                         period="total")
    got = {r.incident_id: (r.scope, r.deployment_id, r.attribution) for r in inc.itertuples()}
    assert got == {"pagerduty:P1": ("api", "ci:D1", "service"),
                   "pagerduty:P2": ("billing", "ci:B1", "service"),
                   "pagerduty:P3": ("api", None, "none")}
    rows = m.set_index("scope")
    # api: 2 deployments, D1 failed → CFR 1/2; incidents P1, P3; recovery over attributed P1 = 2 h;
    #      MTTR over P1 (2 h) and P3 (4 h) = 3 h.
    api = rows.loc["api"]
    assert (api.deployments, api.failed_deployments, api.incidents) == (2, 1, 2)
    assert api.change_failure_rate == pytest.approx(0.5)
    assert api.recovery_time_p50_hours == pytest.approx(2.0)
    assert api.mttr_p50_hours == pytest.approx(3.0)
    # billing: 1 deployment, failed by P2 → CFR 1; recovery 6 h.
    billing = rows.loc["billing"]
    assert (billing.deployments, billing.failed_deployments, billing.incidents) == (1, 1, 1)
    assert billing.change_failure_rate == pytest.approx(1.0)
    assert billing.recovery_time_p50_hours == pytest.approx(6.0)
