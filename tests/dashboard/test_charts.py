"""cadence.dashboard.charts on hand-written rows."""

from __future__ import annotations

import pandas as pd

from cadence.dashboard import charts


def _incidents(per_service: dict[str, int]) -> pd.DataFrame:
    rows, n = [], 0
    for service, count in per_service.items():
        for i in range(count):
            n += 1
            start = pd.Timestamp("2026-11-02 10:00") + pd.Timedelta(hours=n)
            rows.append({"incident_id": f"INC-{n}", "service": service, "created_at": start,
                         "resolved_at": start + pd.Timedelta(hours=1) if i else pd.NaT,
                         "attribution": "service", "deployment_id": None})
    return pd.DataFrame(rows)


def test_the_timeline_draws_the_services_with_the_most_incidents_only():
    # 30 services: svc-00 has 30 incidents, svc-01 29, ... svc-29 1 (465 incidents in all); the
    # timeline keeps the 25 busiest, svc-00..svc-24 (30+29+...+6 = 450 incidents), one bar each.
    incidents = _incidents({f"svc-{i:02d}": 30 - i for i in range(30)})
    assert charts.busiest_services(incidents) == [f"svc-{i:02d}" for i in range(25)]
    chart = charts.incident_timeline(incidents, title="t")
    assert set(chart.data["service"]) == {f"svc-{i:02d}" for i in range(25)}
    assert len(chart.data) == 450
    assert chart.spec["encoding"]["y"]["sort"] == [f"svc-{i:02d}" for i in range(25)]   # busiest on top


def test_busiest_services_breaks_ties_by_name_and_keeps_few_services_whole():
    # b and a both have 2 incidents, c 1: a before b (name), then c; three services fit under the cap
    incidents = _incidents({"b": 2, "c": 1, "a": 2})
    assert charts.busiest_services(incidents, 2) == ["a", "b"]
    chart = charts.incident_timeline(incidents, title="t")
    assert set(chart.data["service"]) == {"a", "b", "c"}


def test_weekly_bars_stack_each_week_from_zero_in_the_groups_order():
    # week 1: a 2, b 3 -> a spans 0..2, b 2..5; week 2: a 1, b 4 -> a 0..1, b 1..5. Each bar spans
    # 85 % of the 7-day step (5.95 days) from its week's start.
    weeks = pd.to_datetime(["2026-11-02", "2026-11-02", "2026-11-09", "2026-11-09"])
    df = pd.DataFrame({"period_start": weeks, "scope": ["b", "a", "a", "b"], "deployments": [3, 2, 1, 4]})
    chart = charts.bars(df, "period_start", "deployments", color="scope", title="t", unit="count")
    rows = chart.data.sort_values(["period_start", "group"]).reset_index(drop=True)
    assert rows[["group", "value_start", "value_end"]].values.tolist() == [
        ["a", 0, 2], ["b", 2, 5], ["a", 0, 1], ["b", 1, 5]]
    assert (rows["x_end"] - rows["period_start"]).eq(pd.Timedelta(days=7) * 0.85).all()
    assert rows["when"].tolist() == ["02 Nov 2026", "02 Nov 2026", "09 Nov 2026", "09 Nov 2026"]
    assert chart.spec["encoding"]["color"]["scale"]["domain"] == ["a", "b"]


def test_lines_keep_a_missing_value_as_a_gap_and_label_each_series():
    # three weeks, p90 missing in the second: the row stays (null), and Vega-Lite breaks the line there
    df = pd.DataFrame({"period_start": pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"]),
                       "p50": [1.0, 2.0, 3.0], "p90": [5.0, None, 7.0]})
    chart = charts.lines(df, "period_start", {"p50": "p50", "p90": "p90"}, title="t", unit="hours", dash=["p90"])
    assert len(chart.data) == 6 and chart.data["value"].isna().sum() == 1
    assert chart.spec["mark"]["invalid"] == "break-paths-show-domains"
    assert chart.spec["encoding"]["strokeDash"]["scale"]["range"] == [[1, 0], [2, 3]]
    assert charts.lines(df, "period_start", {"p50": "p50", "p90": "p90"}, title="t", unit="hours",
                        dash=["p90"]) is chart          # built once per data


def _weekly(**cols) -> pd.DataFrame:
    return pd.DataFrame({"period_start": pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"]), **cols})


def test_a_stack_draws_each_chart_on_its_own_rows_scales_and_legend_in_one_view():
    df = _weekly(deployments=[3, 5, 4], p50=[1.0, 2.0, 3.0], p90=[5.0, 6.0, 7.0])
    bars = charts.bars(df, "period_start", "deployments", title="Deployments", unit="count", label="deployments")
    lines = charts.lines(df, "period_start", {"p50": "p50", "p90": "p90"}, title="Lead time", unit="hours")
    stacked = charts.stack([bars, lines])
    one, two = stacked.spec["vconcat"]
    assert (one["title"]["text"], two["title"]["text"]) == ("Deployments", "Lead time")
    assert (one["data"], two["data"]) == ({"name": "chart_0"}, {"name": "chart_1"})
    # each its own rows, as Vega reads them: 64-bit integers as floats, times in milliseconds
    assert list(stacked.datasets) == ["chart_0", "chart_1"]
    assert stacked.datasets["chart_0"]["value"].tolist() == [3.0, 5.0, 4.0]
    assert str(stacked.datasets["chart_0"]["period_start"].dtype) == "datetime64[ms]"
    assert len(stacked.datasets["chart_1"]) == 6                       # 3 weeks x 2 series
    # a vconcat shares x (and merges colour domains) unless told otherwise
    assert stacked.spec["resolve"]["scale"]["x"] == "independent"
    assert stacked.spec["resolve"]["legend"]["color"] == "independent"
    # heights are the plots': HEIGHT less the title and axis (80), and the legend row (28 + 20) for
    # the lines: 300 - 80 = 220 and 300 - 80 - 48 = 172, so side-by-side stacks stay level
    assert (one["height"], two["height"]) == (220, 172)
    # the built charts are shared and stay as they were
    assert "data" not in bars.spec and bars.spec["height"] == charts.HEIGHT


def test_show_stack_draws_a_layered_chart_or_a_wide_legend_as_a_view_of_its_own(monkeypatch):
    drawn = []
    monkeypatch.setattr(charts.st, "vega_lite_chart", lambda data, spec, **kw: drawn.append((data, spec, kw["key"])))
    df = _weekly(a=[1.0, 2.0, 3.0])
    plain = charts.lines(df, "period_start", {"a": "a"}, title="Plain", unit="hours")
    layered = charts.Chart({"title": "Layered", "layer": [{"mark": "line"}, {"mark": "point"}]}, df)
    many = pd.DataFrame({"period_start": pd.to_datetime(["2026-11-02"] * 6),
                         "repo": [f"brightcart/service-number-{i}" for i in range(6)], "n": range(6)})
    wide = charts.bars(many, "period_start", "n", color="repo", title="Wide legend", unit="count")
    charts.show_stack([plain, None, plain, layered, wide, plain], key="k")
    # plain+plain stacked; the layered chart and the wide legend alone; the last plain alone
    assert [key for _, _, key in drawn] == ["k", "k-1", "k-2", "k-3"]
    assert [len(spec["vconcat"]) if "vconcat" in spec else spec["title"] for _, spec, _ in drawn][0] == 2
    assert drawn[1][1]["title"] == "Layered" and drawn[1][0] is df
    assert drawn[2][1]["title"]["text"] == "Wide legend"
    # a stack hands Streamlit its datasets and no top-level rows
    assert drawn[0][0] is None and set(drawn[0][1]["datasets"]) == {"chart_0", "chart_1"}


def _svg_of(tag: str) -> str:
    import base64
    import re

    source = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', tag).group(1)
    return base64.b64decode(source).decode()


def test_a_sparkline_is_an_image_of_its_values_scaled_to_the_box():
    import html
    import re

    tag = charts.sparkline([2.0, 5.0, 3.5], label='24 Aug 2.0 to 09 Nov "3.5" <h>')
    # The label is the hover title and the alt text, escaped.
    assert 'title="24 Aug 2.0 to 09 Nov &quot;3.5&quot; &lt;h&gt;"' in tag
    assert html.unescape(re.search(r'alt="([^"]*)"', tag).group(1)) == '24 Aug 2.0 to 09 Nov "3.5" <h>'
    svg = _svg_of(tag)
    line = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
    # Three values, spread over the 100-wide box (steps of 50). Height 28: the lowest value (2.0) sits
    # at 28 - 1 = 27, the highest (5.0) at 1, and 3.5 halfway: 27 - (1.5 / 3) * 26 = 14.
    assert [tuple(map(float, p.split(","))) for p in line] == [(0.0, 27.0), (50.0, 1.0), (100.0, 14.0)]


def test_a_bar_sparkline_starts_at_zero_and_fewer_than_two_values_draw_nothing():
    import re

    svg = _svg_of(charts.sparkline([100.0, 300.0], kind="bar", label="cost"))
    bars = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/>', svg)
    # Bars from 0: 300 reaches the top (y = 1, height 27 - 1 = 26), 100 a third of that
    # (y = 27 - 26 / 3 = 18.33, height 8.67).
    assert [(float(y), float(h)) for y, h in bars] == [(18.33, 8.67), (1.0, 26.0)]
    assert charts.sparkline([4.0], label="one week") == ""
    assert charts.sparkline([], label="none") == ""
