"""DORA metrics: every rule of docs/metrics.md and the edges of issue 3, on hand-written rows in a
real DuckDB file, with the arithmetic beside each assertion."""

from __future__ import annotations

import math
from datetime import date

import pytest

from cadence.core.config import parse_config
from metrics import dora_metrics, drilldown
from metrics.dora import DORA_COLUMNS, DRILLDOWN_COLUMNS, MetricsError
from tests.support.metrics_rows import chg, dep, inc, load
from warehouse import read_connection

JAN = (date(2024, 1, 1), date(2024, 1, 31))   # 2024-01-01 is a Monday


def total(con, config, start=JAN[0], end=JAN[1], **kwargs):
    """The single org-wide row over the range (period total)."""
    df = dora_metrics(con, config, start, end, period="total", **kwargs)
    assert len(df) == 1, df
    return df.iloc[0]


def is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# -- shape and empty cases ------------------------------------------------------------------------

def test_no_deployments_at_all_gives_an_empty_frame_with_every_column(con, config):
    df = dora_metrics(con, config, *JAN)
    assert list(df.columns) == list(DORA_COLUMNS)
    assert len(df) == 0
    for kind in ("changes", "deployments", "incidents"):
        dd = drilldown(con, config, kind, *JAN)
        assert list(dd.columns) == list(DRILLDOWN_COLUMNS[kind]) and len(dd) == 0


def test_only_an_incident_gives_a_row_without_rates(con, config):
    load(con, incidents=[inc("i1", "2024-01-03T10:00", resolved="2024-01-03T13:00")])
    row = total(con, config)
    # no deployments: 0 deployments, CFR and rework null (0 ÷ 0), no frequency band; mttr 3 h
    assert row.deployments == 0 and row.deploys_per_week == 0.0
    assert is_null(row.change_failure_rate) and is_null(row.rework_rate)
    assert row.incidents == 1 and row.mttr_p50_hours == 3.0 and is_null(row.recovery_time_p50_hours)
    assert row.band_deployment_frequency == "low"  # 0 deploys/day is a value, below every threshold
    assert row.band_change_failure_rate is None and row.band_lead_time is None


def test_bad_arguments_are_named(con, config):
    with pytest.raises(MetricsError, match="before start"):
        dora_metrics(con, config, date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(MetricsError, match='by "squad"'):
        dora_metrics(con, config, *JAN, by="squad")
    with pytest.raises(MetricsError, match='period "day"'):
        dora_metrics(con, config, *JAN, period="day")


# -- deployment frequency ---------------------------------------------------------------------------

def test_deployment_frequency_counts_successful_production_deployments_only(con, config):
    load(con, deployments=[
        dep("d1", "2024-01-02T10:00"),
        dep("d2", "2024-01-02T15:00"),                       # same UTC day as d1
        dep("d3", "2024-01-04T10:00", env="PROD"),           # production is case-insensitive
        dep("d4", "2024-01-05T10:00", env="staging"),        # not production
        dep("d5", "2024-01-05T11:00", status="failure"),     # not successful
        dep("d6", None, started="2024-01-05T12:00"),         # no finished_at: not placed
        dep("d7", "2024-02-01T00:00"),                       # after the range's last day
    ])
    row = total(con, config)
    # d1, d2, d3 -> 3 deployments on 2 distinct dates (01-02, 01-04); 31 days = 31/7 weeks
    assert row.deployments == 3 and row.deployment_days == 2
    assert row.deploys_per_week == pytest.approx(3 / (31 / 7))   # 0.6774
    # 3 / 31 = 0.097 per day: >= 1/30 and < 1/7 -> medium (2024)
    assert row.band_deployment_frequency == "medium"


def test_end_is_inclusive_of_its_whole_day(con, config):
    load(con, deployments=[dep("d1", "2024-01-31T23:59:59"), dep("d2", "2024-02-01T00:00:00")])
    assert total(con, config).deployments == 1     # d1 on the last day counts, d2 does not


def test_partial_weeks_count_by_their_days_in_range(con, config):
    # Range Wednesday 2024-01-03 .. Tuesday 2024-01-09: week of 01-01 has 5 days in range
    # (Wed-Sun), week of 01-08 has 2 (Mon, Tue).
    load(con, deployments=[dep("d1", "2024-01-03T10:00"), dep("d2", "2024-01-04T10:00"),
                           dep("d3", "2024-01-09T10:00")])
    df = dora_metrics(con, config, date(2024, 1, 3), date(2024, 1, 9), period="week")
    assert list(df.period_start) == [date(2024, 1, 1), date(2024, 1, 8)]
    # 2 deployments / (5/7) = 2.8 per week; 1 / (2/7) = 3.5 per week
    assert list(df.deploys_per_week) == [pytest.approx(2.8), pytest.approx(3.5)]


def test_offsets_land_on_the_utc_day_and_iso_week(con, config):
    # +09:00 input converted to UTC as ingest does:
    #   2024-01-08T08:59+09:00 = 2024-01-07 23:59 UTC (Sunday)  -> week of 2024-01-01
    #   2024-01-08T09:00+09:00 = 2024-01-08 00:00 UTC (Monday)  -> week of 2024-01-08
    #   2024-01-03T08:30+09:00 = 2024-01-02 23:30 UTC           -> same UTC day as d4 below
    load(con, deployments=[dep("d1", "2024-01-08T08:59+09:00"), dep("d2", "2024-01-08T09:00+09:00"),
                           dep("d3", "2024-01-03T08:30+09:00"), dep("d4", "2024-01-02T12:00")])
    df = dora_metrics(con, config, *JAN, period="week")
    assert list(df.period_start) == [date(2024, 1, 1), date(2024, 1, 8)]
    # week 1: d1, d3, d4 on UTC dates 01-07, 01-02, 01-02 -> 3 deployments, 2 days; week 2: d2
    assert list(df.deployments) == [3, 1]
    assert list(df.deployment_days) == [2, 1]


def test_month_periods_across_a_year_end(con, config):
    load(con, deployments=[dep("d1", "2023-12-20T10:00"), dep("d2", "2023-12-30T10:00"),
                           dep("d3", "2024-01-02T10:00")])
    df = dora_metrics(con, config, date(2023, 12, 15), date(2024, 1, 10), period="month")
    assert list(df.period_start) == [date(2023, 12, 1), date(2024, 1, 1)]
    assert list(df.deployments) == [2, 1]
    # December has 17 days in range (15..31): 2 / (17/7) = 0.8235; January 10 days: 1 / (10/7) = 0.7
    assert list(df.deploys_per_week) == [pytest.approx(14 / 17), pytest.approx(0.7)]


def test_total_period_starts_at_the_start_date(con, config):
    load(con, deployments=[dep("d1", "2024-01-20T10:00")])
    df = dora_metrics(con, config, date(2024, 1, 10), date(2024, 1, 23), period="total")
    # 14 days = 2 weeks: 1 / 2 = 0.5 per week
    assert list(df.period_start) == [date(2024, 1, 10)] and df.deploys_per_week[0] == 0.5


# -- which deployment shipped a change; lead time --------------------------------------------------

def test_lead_time_and_its_four_stages(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00")],
         changes=[chg("c1", "2024-01-03T10:00", first_commit="2024-01-01T08:00",
                      opened="2024-01-02T08:00", review="2024-01-02T14:00")])
    row = total(con, config)
    # lead = 01-03 12:00 - 01-01 08:00 = 52 h; coding = 24 h; pickup = 6 h; review = 20 h;
    # deploy = 12:00 - 10:00 = 2 h
    assert row.changes_deployed == 1
    assert (row.lead_time_p50_hours, row.coding_p50_hours, row.pickup_p50_hours,
            row.review_p50_hours, row.deploy_p50_hours) == (52.0, 24.0, 6.0, 20.0, 2.0)
    assert row.band_lead_time == "high"       # 52 h: >= 1 day, < 1 week
    dd = drilldown(con, config, "changes", *JAN)
    assert dd.iloc[0][["change_id", "deployment_id", "link", "lead_time_hours"]].tolist() == \
        ["c1", "d1", "inferred", 52.0]


def test_no_review_pickup_is_null_and_review_runs_from_opened(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00")],
         changes=[chg("c1", "2024-01-03T10:00", opened="2024-01-03T04:00")])
    row = total(con, config)
    # no first commit: lead from opened = 12:00 - 04:00 = 8 h; coding null (no first commit);
    # pickup null (no review); review = merged - opened = 6 h
    assert row.lead_time_p50_hours == 8.0 and row.review_p50_hours == 6.0
    assert is_null(row.coding_p50_hours) and is_null(row.pickup_p50_hours)


def test_negative_spans_are_unknown_and_left_out_of_medians(con, config):
    load(con, deployments=[dep("d1", "2024-01-05T12:00", started="2024-01-05T11:00")],
         changes=[
             # review before the pull request was opened: pickup -2 h -> unknown
             chg("c1", "2024-01-05T10:00", first_commit="2024-01-04T10:00", opened="2024-01-04T12:00",
                 review="2024-01-04T10:00"),
             # first commit after opening (rebased): coding -4 h -> unknown
             chg("c2", "2024-01-05T10:00", first_commit="2024-01-04T16:00", opened="2024-01-04T12:00",
                 review="2024-01-04T20:00"),
         ])
    row = total(con, config)
    # pickup: c1 unknown, c2 = 20:00 - 12:00 = 8 h -> median 8; coding: c1 = 2 h, c2 unknown -> 2
    assert row.pickup_p50_hours == 8.0 and row.coding_p50_hours == 2.0
    # lead: c1 = 26 h, c2 = 20 h -> median 23
    assert row.lead_time_p50_hours == 23.0 and row.changes_deployed == 2


def test_several_changes_per_deployment_quantiles_interpolate(con, config):
    load(con, deployments=[dep("d1", "2024-01-10T12:00", started="2024-01-10T11:00")],
         changes=[chg("c1", "2024-01-10T10:00", first_commit="2024-01-10T02:00"),    # 10 h
                  chg("c2", "2024-01-10T10:00", first_commit="2024-01-09T16:00"),    # 20 h
                  chg("c3", "2024-01-10T10:00", first_commit="2024-01-08T20:00")])   # 40 h
    row = total(con, config)
    # sorted 10, 20, 40: p50 = 20; p75 at 1.5 -> 20 + 0.5*20 = 30; p90 at 1.8 -> 20 + 0.8*20 = 36
    assert (row.changes_deployed, row.deployments) == (3, 1)
    assert (row.lead_time_p50_hours, row.lead_time_p75_hours, row.lead_time_p90_hours) == \
        (20.0, pytest.approx(30.0), pytest.approx(36.0))


def test_change_never_deployed_is_listed_but_not_counted(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00")],
         changes=[chg("c1", "2024-01-03T10:00"), chg("c2", "2024-01-20T10:00")])
    row = total(con, config)
    assert row.changes_deployed == 1          # c2 has no deployment at or after its merge
    dd = drilldown(con, config, "changes", *JAN)
    assert dd[["change_id", "deployment_id", "link"]].values.tolist() == \
        [["c1", "d1", "inferred"], ["c2", None, "none"]]
    assert is_null(dd.lead_time_hours[1])


def test_inference_uses_start_and_falls_back_to_finish(con, config):
    # d1 started before the merge (10:00) though it finished after: not a candidate.
    # d2 has no started_at; its finished_at 11:00 >= 10:00 makes it the first.
    load(con, deployments=[dep("d1", "2024-01-03T10:30", started="2024-01-03T09:50"),
                           dep("d2", "2024-01-03T11:00"),
                           dep("d3", "2024-01-03T12:00", started="2024-01-03T11:30")],
         changes=[chg("c1", "2024-01-03T10:00")])
    dd = drilldown(con, config, "changes", *JAN)
    assert dd.deployment_id.tolist() == ["d2"] and dd.deploy_hours.tolist() == [1.0]


def test_failed_attempt_then_success_of_the_same_sha(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T11:10", started="2024-01-03T11:00", sha="abc",
                               status="failure"),
                           dep("d2", "2024-01-03T12:10", started="2024-01-03T12:00", sha="abc")],
         changes=[chg("c1", "2024-01-03T10:00", sha="abc")])
    row = total(con, config)
    # the failed attempt is not a deployment: 1 deployment; c1 shipped by d2: 12:10 - 10:00
    assert row.deployments == 1 and row.failed_deployments == 0
    assert row.deploy_p50_hours == pytest.approx(130 / 60)
    assert drilldown(con, config, "changes", *JAN)[["deployment_id", "link"]].values.tolist() == \
        [["d2", "sha"]]


def test_staging_before_production(con, config):
    load(con, deployments=[dep("s1", "2024-01-03T11:00", env="staging", sha="abc"),
                           dep("p1", "2024-01-04T11:00", sha="abc")],
         changes=[chg("c1", "2024-01-03T10:00", sha="abc")])
    row = total(con, config)
    # staging is ignored: lead time runs to the production finish, 25 h after the merge
    assert row.deployments == 1 and row.deploy_p50_hours == 25.0


def test_squash_merge_found_by_sha_over_an_earlier_deployment(con, config):
    # d1 (another sha) starts first after the merge; the squash sha ships in d2: sha wins.
    load(con, deployments=[dep("d1", "2024-01-03T11:00", started="2024-01-03T10:30", sha="zzz"),
                           dep("d2", "2024-01-03T15:00", started="2024-01-03T14:30", sha="sq1")],
         changes=[chg("c1", "2024-01-03T10:00", sha="sq1")])
    dd = drilldown(con, config, "changes", *JAN)
    # deploy = 15:00 - 10:00 = 5 h
    assert dd[["deployment_id", "link", "deploy_hours"]].values.tolist() == [["d2", "sha", 5.0]]


def test_explicit_link_overrides_inference_and_sha(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T11:00", started="2024-01-03T10:30", sha="s1"),
                           dep("d2", "2024-01-05T11:00", started="2024-01-05T10:30", sha="s2"),
                           dep("d3", "2024-01-06T11:00", env="staging")],
         changes=[chg("c1", "2024-01-03T10:00", sha="s1")],
         links=[("d3", "c1"), ("d2", "c1")])      # the staging link is not a shipment
    dd = drilldown(con, config, "changes", *JAN)
    # explicit d2: deploy = 01-05 11:00 - 01-03 10:00 = 49 h
    assert dd[["deployment_id", "link", "deploy_hours"]].values.tolist() == [["d2", "explicit", 49.0]]
    row = total(con, config)
    assert row.deployments == 2 and row.changes_deployed == 1


def test_explicit_link_to_a_deployment_before_the_merge_is_unknown(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T08:00")],
         changes=[chg("c1", "2024-01-03T10:00", first_commit="2024-01-02T10:00")], links=[("d1", "c1")])
    row = total(con, config)
    # deploy = 08:00 - 10:00 = -2 h -> unknown; lead = 22 h is still known; the change counts
    assert row.changes_deployed == 1 and is_null(row.deploy_p50_hours)
    assert row.lead_time_p50_hours == 22.0


def test_change_belongs_to_the_period_of_its_deployment(con, config):
    # merged in December, deployed in January: counts in January only
    load(con, deployments=[dep("d1", "2024-01-02T10:00", started="2024-01-02T09:00")],
         changes=[chg("c1", "2023-12-29T10:00")])
    df = dora_metrics(con, config, date(2023, 12, 1), date(2024, 1, 31), period="month")
    assert df.period_start.tolist() == [date(2024, 1, 1)] and df.changes_deployed.tolist() == [1]
    dec = dora_metrics(con, config, date(2023, 12, 1), date(2023, 12, 31), period="month")
    assert len(dec) == 0
    # deploy = 01-02 10:00 - 12-29 10:00 = 96 h
    assert drilldown(con, config, "changes", *JAN).deploy_hours.tolist() == [96.0]


# -- incidents, change failure rate, recovery ----------------------------------------------------

def test_incident_attributed_to_latest_deployment_of_its_service_within_window(con, config):
    load(con, deployments=[dep("d1", "2024-01-02T10:00"), dep("d2", "2024-01-03T10:00"),
                           dep("w1", "2024-01-03T11:00", repo="shop/web")],
         incidents=[inc("i1", "2024-01-03T12:00", resolved="2024-01-03T14:30")])
    dd = drilldown(con, config, "incidents", *JAN)
    assert dd[["incident_id", "deployment_id", "attribution"]].values.tolist() == [["i1", "d2", "service"]]
    row = total(con, config)
    # 1 failed of 3 deployments; recovery 2.5 h (attributed), MTTR 2.5 h
    assert row.failed_deployments == 1 and row.change_failure_rate == pytest.approx(1 / 3)
    assert row.recovery_time_p50_hours == 2.5 and row.mttr_p50_hours == 2.5
    assert row.band_change_failure_rate == "low"    # 33 % > 15 %
    assert row.band_recovery_time == "high"         # 2.5 h: >= 1 h, < 1 day


def test_incident_with_no_deployment_inside_the_window(con, config):
    # d1 finished 7 days + 1 minute before the incident: outside the 7-day window
    load(con, deployments=[dep("d1", "2024-01-03T09:59")],
         incidents=[inc("i1", "2024-01-10T10:00", resolved="2024-01-10T16:00")])
    row = total(con, config)
    assert row.failed_deployments == 0 and row.change_failure_rate == 0.0
    assert is_null(row.recovery_time_p50_hours) and row.mttr_p50_hours == 6.0
    assert drilldown(con, config, "incidents", *JAN).attribution.tolist() == ["none"]


def test_attribution_window_comes_from_config(con):
    config = parse_config({"attribution_window_days": 8})
    load(con, deployments=[dep("d1", "2024-01-03T09:59")],
         incidents=[inc("i1", "2024-01-10T10:00", resolved="2024-01-10T16:00")])
    assert total(con, config).failed_deployments == 1     # 7 d 1 min <= 8 days


def test_incident_without_service_is_attributed_by_repo(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T10:00", repo="shop/billing")],
         incidents=[inc("i1", "2024-01-03T12:00", service=None, repo="shop/billing",
                        resolved="2024-01-03T13:00")])
    dd = drilldown(con, config, "incidents", *JAN)
    assert dd[["deployment_id", "attribution"]].values.tolist() == [["d1", "repo"]]


def test_explicit_cause_overrides_inference(con, config):
    load(con, deployments=[dep("d1", "2024-01-02T10:00"), dep("d2", "2024-01-03T10:00")],
         incidents=[inc("i1", "2024-01-03T12:00", resolved="2024-01-03T13:00", caused_by="d1")])
    dd = drilldown(con, config, "incidents", *JAN)
    assert dd[["deployment_id", "attribution"]].values.tolist() == [["d1", "explicit"]]
    deps = drilldown(con, config, "deployments", *JAN)
    assert deps[["deployment_id", "failed", "failure_reasons"]].values.tolist() == \
        [["d1", True, "incident i1"], ["d2", False, None]]


def test_open_incident_counts_but_never_in_a_median(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T10:00")],
         incidents=[inc("i1", "2024-01-03T12:00"),
                    inc("i2", "2024-01-20T12:00", service="web", repo="shop/web",
                        resolved="2024-01-20T16:00")])
    row = total(con, config)
    # i1 open (attributed to d1: CFR 1/1); i2 unattributed, 4 h
    assert (row.incidents, row.open_incidents, row.failed_deployments) == (2, 1, 1)
    assert is_null(row.recovery_time_p50_hours) and row.mttr_p50_hours == 4.0


def test_recovery_is_attributed_incidents_mttr_is_all(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T10:00")],
         incidents=[inc("i1", "2024-01-03T11:00", resolved="2024-01-03T13:00"),                # 2 h
                    inc("i2", "2024-01-04T11:00", service="web", repo="shop/web",
                        resolved="2024-01-04T17:00")])                                         # 6 h
    row = total(con, config)
    # recovery: median of {2} = 2; MTTR: median of {2, 6} = 4
    assert row.recovery_time_p50_hours == 2.0 and row.mttr_p50_hours == 4.0


def test_incident_belongs_to_the_period_of_created_at(con, config):
    # deployment on Sunday 01-07 (week 1), incident on Monday 01-08 (week 2)
    load(con, deployments=[dep("d1", "2024-01-07T22:00")],
         incidents=[inc("i1", "2024-01-08T01:00", resolved="2024-01-08T02:00")])
    df = dora_metrics(con, config, *JAN, period="week")
    assert df[["period_start", "deployments", "failed_deployments", "incidents"]].values.tolist() == \
        [[date(2024, 1, 1), 1, 1, 0], [date(2024, 1, 8), 0, 0, 1]]


def test_incident_after_the_range_still_fails_a_deployment_in_it(con, config):
    load(con, deployments=[dep("d1", "2024-01-31T20:00")],
         incidents=[inc("i1", "2024-02-01T02:00", resolved="2024-02-01T03:00")])
    row = total(con, config)
    assert (row.failed_deployments, row.incidents) == (1, 0)


def test_rollback_detection(con, config):
    load(con, deployments=[dep("d1", "2024-01-02T10:00", sha="A"), dep("d2", "2024-01-03T10:00", sha="B"),
                           dep("d3", "2024-01-04T10:00", sha="A"),     # ships A again: d2 rolled back
                           dep("d4", "2024-01-05T10:00", sha="C"),
                           dep("d5", "2024-01-06T10:00", sha="C"),     # redeploy of the same sha
                           dep("d6", "2024-01-07T10:00", sha="D"),
                           dep("x1", "2024-01-06T12:00", sha="A", service="other")])  # other service
    deps = drilldown(con, config, "deployments", *JAN)
    failed = dict(zip(deps.deployment_id, deps.failed))
    assert [k for k, v in failed.items() if v] == ["d2"]
    assert deps.set_index("deployment_id").failure_reasons["d2"] == "rolled back by d3"
    # 1 of 7 deployments failed
    assert total(con, config).change_failure_rate == pytest.approx(1 / 7)


def test_rollback_by_a_deployment_after_the_range(con, config):
    load(con, deployments=[dep("d1", "2024-01-02T10:00", sha="A"), dep("d2", "2024-01-31T10:00", sha="B"),
                           dep("d3", "2024-02-01T10:00", sha="A")])
    assert total(con, config).failed_deployments == 1


# -- rework --------------------------------------------------------------------------------------

def test_rework_rate(con, config):
    load(con, deployments=[dep("d1", "2024-01-02T10:00", started="2024-01-02T09:30"),
                           dep("d2", "2024-01-03T10:00", started="2024-01-03T09:30"),
                           dep("d3", "2024-01-04T10:00", started="2024-01-04T09:30"),
                           dep("d4", "2024-01-05T10:00", started="2024-01-05T09:30"),
                           dep("d5", "2024-01-06T10:00", started="2024-01-06T09:30"),
                           dep("w1", "2024-01-06T10:00", repo="shop/web")],
         changes=[chg("c1", "2024-01-02T09:00", labels=["HotFix"]),             # label, any case
                  chg("c2", "2024-01-03T09:00", title='Revert "add cache"'),    # revert title
                  chg("c3", "2024-01-04T09:00", labels=["feature"])],
         incidents=[inc("i1", "2024-01-05T08:00", resolved="2024-01-05T12:00"),  # open at d4
                    inc("i2", "2024-01-06T08:00", service="web", repo="shop/web")])  # other service
    deps = drilldown(con, config, "deployments", *JAN).set_index("deployment_id")
    # d1 (hotfix), d2 (revert), d4 (during i1) are rework; w1 during open i2 of web
    assert deps.rework.to_dict() == {"d1": True, "d2": True, "d3": False, "d4": True, "d5": False,
                                     "w1": True}
    assert deps.rework_reasons["d1"] == "rework change c1"
    assert deps.rework_reasons["d4"] == "open incident i1"
    # 4 of 6 deployments
    assert total(con, config).rework_rate == pytest.approx(4 / 6)


def test_rework_labels_come_from_config(con):
    config = parse_config({"rework_labels": ["incident-fix"]})
    load(con, deployments=[dep("d1", "2024-01-02T10:00", started="2024-01-02T09:30")],
         changes=[chg("c1", "2024-01-02T09:00", labels=["hotfix", "Incident-Fix"])])
    assert total(con, config).rework_rate == 1.0


# -- scopes ----------------------------------------------------------------------------------------

def test_a_team_owning_two_repos(con, config):
    # payments owns shop/api and shop/billing; storefront owns shop/web
    load(con, deployments=[dep("a1", "2024-01-02T10:00"), dep("b1", "2024-01-03T10:00", repo="shop/billing"),
                           dep("w1", "2024-01-04T10:00", repo="shop/web"),
                           dep("z1", "2024-01-04T10:00", repo="shop/unowned")])
    df = dora_metrics(con, config, *JAN, by="team", period="total")
    # z1's repo and service belong to no team: it is "(no team)", so 1 + 2 + 1 = 4, as by org.
    assert df[["scope", "deployments"]].values.tolist() == [["(no team)", 1], ["payments", 2], ["storefront", 1]]
    by_repo = dora_metrics(con, config, *JAN, by="repo", period="total")
    assert by_repo.scope.tolist() == ["shop/api", "shop/billing", "shop/unowned", "shop/web"]
    assert dora_metrics(con, config, *JAN, by="org", period="total").deployments.tolist() == [4]
    only = dora_metrics(con, config, *JAN, by="team", period="total", scope="storefront")
    assert only[["scope", "deployments"]].values.tolist() == [["storefront", 1]]


def test_a_repo_in_two_teams_counts_in_each_once(con):
    config = parse_config({"teams": {
        "core": {"repos": ["shop/api"], "services": ["api"]},     # owns both: counts once
        "sre": {"services": ["api"]}}})
    load(con, deployments=[dep("a1", "2024-01-02T10:00")],
         incidents=[inc("i1", "2024-01-02T11:00", resolved="2024-01-02T12:00")])
    df = dora_metrics(con, config, *JAN, by="team", period="total")
    assert df[["scope", "deployments", "incidents", "failed_deployments"]].values.tolist() == \
        [["core", 1, 1, 1], ["sre", 1, 1, 1]]


def test_by_service_changes_follow_their_deployment(con, config):
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00", service="checkout")],
         changes=[chg("c1", "2024-01-03T10:00")])
    df = dora_metrics(con, config, *JAN, by="service", period="total")
    assert df[["scope", "deployments", "changes_deployed"]].values.tolist() == [["checkout", 1, 1]]


def test_works_on_a_read_only_connection(db_path, config):
    from warehouse import connect

    con = connect(db_path)
    load(con, deployments=[dep("d1", "2024-01-02T10:00")])
    con.close()
    with read_connection(db_path) as ro:
        df = dora_metrics(ro, config, *JAN, by="team")
        assert df[["scope", "deployments"]].values.tolist() == [["payments", 1]]
        assert len(drilldown(ro, config, "deployments", *JAN, by="team")) == 1


def test_benchmark_year_changes_bands(con, config):
    # lead time 12 h: 2024 elite (< 1 day); 2021 high (>= 1 hour, < 1 week)
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00")],
         changes=[chg("c1", "2024-01-03T10:00", first_commit="2024-01-03T00:00")])
    assert total(con, config).band_lead_time == "elite"
    assert total(con, config, benchmark="2021").band_lead_time == "high"
    assert total(con, config, benchmark={"lead_time": (6, 10, 20)}).band_lead_time == "medium"
