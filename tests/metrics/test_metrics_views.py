"""The fast paths of the metrics layer: several views in one pass (``dora_metrics_views``, what the
Overview calls) and the change links found outside the merge-time bounds the changes scan uses.
Hand-written rows in a real DuckDB file, with the arithmetic beside each assertion."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metrics import dora_metrics, dora_metrics_views, drilldown
from metrics.dora import MetricsError
from tests.support.metrics_rows import chg, dep, inc, load


def _week_rows():
    # Two ISO weeks: Mon 2024-01-08..Sun 01-14 and Mon 01-15..Sun 01-21.
    deployments = [
        dep("d1", "2024-01-09T10:00", sha="a1", started="2024-01-09T09:50"),
        dep("d2", "2024-01-11T10:00", sha="a2", started="2024-01-11T09:50"),
        dep("d3", "2024-01-16T12:00", sha="a3", started="2024-01-16T11:50"),
    ]
    changes = [
        # merged before d1 started: shipped by d1 (first after merge); lead 10:00 − 08:00 = 2 h
        chg("c1", "2024-01-09T09:00", first_commit="2024-01-09T08:00", opened="2024-01-09T08:30"),
        # merged between d1 and d2: shipped by d2; lead 01-11 10:00 − 01-10 10:00 = 24 h
        chg("c2", "2024-01-10T12:00", first_commit="2024-01-10T10:00", opened="2024-01-10T11:00"),
        # merged before d3: shipped by d3; lead 12:00 − 06:00 = 6 h
        chg("c3", "2024-01-16T11:00", first_commit="2024-01-16T06:00", opened="2024-01-16T07:00"),
    ]
    incidents = [inc("i1", "2024-01-16T13:00", resolved="2024-01-16T15:00")]
    return deployments, changes, incidents


def test_views_in_one_pass_equal_separate_calls(con, config):
    deployments, changes, incidents = _week_rows()
    load(con, deployments=deployments, changes=changes, incidents=incidents)
    views = ((date(2024, 1, 15), date(2024, 1, 21), "total"),   # this week
             (date(2024, 1, 8), date(2024, 1, 14), "total"),    # the week before
             (date(2024, 1, 8), date(2024, 1, 21), "week"))     # both, weekly
    now, before, trend = dora_metrics_views(con, config, views)
    for frame, (start, end, period) in zip((now, before, trend), views, strict=True):
        pd.testing.assert_frame_equal(frame, dora_metrics(con, config, start, end, period=period))
    # this week: d3 only, 1 deployment in 7 days = 1/week; c3 lead 6 h; i1 (attributed to d3, the
    # deployment of its service 1 h before) makes d3 failed: CFR 1/1; recovery 15:00 − 13:00 = 2 h
    assert now.loc[0, ["deployments", "changes_deployed", "failed_deployments"]].tolist() == [1, 1, 1]
    assert now.loc[0, "lead_time_p50_hours"] == 6.0 and now.loc[0, "recovery_time_p50_hours"] == 2.0
    # the week before: d1, d2 = 2 per week; leads 2 h and 24 h, median (2 + 24) / 2 = 13 h; no incident
    assert before.loc[0, "deploys_per_week"] == 2.0 and before.loc[0, "lead_time_p50_hours"] == 13.0
    assert before.loc[0, "incidents"] == 0 and before.loc[0, "change_failure_rate"] == 0.0
    # weekly over both: one row per week, starting on the Mondays
    assert trend["period_start"].tolist() == [date(2024, 1, 8), date(2024, 1, 15)]
    assert trend["deployments"].tolist() == [2, 1]


def test_views_need_at_least_one_well_formed_view(con, config):
    with pytest.raises(MetricsError, match="no views"):
        dora_metrics_views(con, config, ())
    with pytest.raises(MetricsError, match='period "day"'):
        dora_metrics_views(con, config, ((date(2024, 1, 1), date(2024, 1, 7), "day"),))
    with pytest.raises(MetricsError, match="before start"):
        dora_metrics_views(con, config, ((date(2024, 1, 7), date(2024, 1, 1), "week"),))


def test_changes_merged_far_outside_the_merge_window_are_linked_by_id_and_sha(con, config):
    load(con,
         deployments=[
             dep("d0", "2023-06-01T10:00", sha="old", started="2023-06-01T09:00"),
             dep("d1", "2024-01-10T10:00", sha="s1", started="2024-01-10T09:00"),
             dep("d2", "2024-01-20T10:00", sha="s2", started="2024-01-20T09:00"),
         ],
         changes=[
             # in d1's merge window (after d0 started, before d1): inferred → d1
             chg("c1", "2024-01-05T10:00", first_commit="2024-01-05T09:00"),
             # merged a year before any window, explicitly linked to d2: explicit → d2;
             # lead 2024-01-20 10:00 − 2022-12-31 10:00 = 385 days = 9240 h
             chg("c2", "2023-01-01T10:00", first_commit="2022-12-31T10:00"),
             # merged before d0 (so rule 3 would give d0, outside the range) but its merge sha
             # is d2's: sha → d2; lead 2024-01-20 10:00 − 2023-05-01 10:00 = 264 days = 6336 h
             chg("c3", "2023-05-01T10:00", first_commit="2023-05-01T10:00", sha="s2"),
             # merged before d0 with no tie: rule 3 gives d0 (June 2023), outside the range
             chg("c4", "2023-05-02T10:00"),
         ],
         links=[("d2", "c2")])
    rows = drilldown(con, config, "changes", date(2024, 1, 1), date(2024, 1, 31))
    got = {r.change_id: (r.deployment_id, r.link, r.lead_time_hours) for r in rows.itertuples()}
    # c1: 2024-01-10 10:00 − 01-05 09:00 = 5 d 1 h = 121 h; c4 is not deployed in the range (nor
    # merged in it), so it is not listed
    assert got == {"c1": ("d1", "inferred", 121.0),
                   "c2": ("d2", "explicit", 9240.0),
                   "c3": ("d2", "sha", 6336.0)}
    # the same three in the metrics: median of 121, 6336, 9240 = 6336 h
    row = dora_metrics(con, config, date(2024, 1, 1), date(2024, 1, 31), period="total").iloc[0]
    assert row.changes_deployed == 3 and row.lead_time_p50_hours == 6336.0


def test_a_repos_first_deployment_ships_every_earlier_merge(con, config):
    # No deployment before d1 in the repo, so its merge window has no lower end: the change merged
    # two years earlier is shipped by d1 (inferred); lead 2024-01-10 10:00 − 2022-01-10 10:00 =
    # 730 days = 17520 h. c2 is merged after the range's last deployment started: when merged
    # changes are listed (the drill-down) it is "none" (no deployment after it at all).
    load(con,
         deployments=[dep("d1", "2024-01-10T10:00", sha="s1", started="2024-01-10T10:00")],
         changes=[chg("c1", "2022-01-10T10:00", first_commit="2022-01-10T10:00"),
                  chg("c2", "2024-01-12T10:00")])
    rows = drilldown(con, config, "changes", date(2024, 1, 1), date(2024, 1, 31))
    got = {r.change_id: (r.deployment_id, r.link) for r in rows.itertuples()}
    assert got == {"c1": ("d1", "inferred"), "c2": (None, "none")}
    assert rows.set_index("change_id").loc["c1", "lead_time_hours"] == 17520.0
