"""``cadence report capacity`` and the document behind the Capacity page's "Download report": one
HTML file that parses, holds a section per team, opens offline (no URL in it) and is the same bytes
for the same data, on the demo database."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest

from cadence.cli import main
from warehouse.meta import effective_config
from cadence.core.config import load_config
from metrics.capacity_review import review_changes
from warehouse import read_connection

AS_OF = date(2026, 11, 20)   # the demo's "today" (tests/support/demo.DEMO_TODAY)
VOID = {"meta", "br", "img", "hr", "input", "link", "col", "area", "base", "source", "wbr"}


class StrictHTML(HTMLParser):
    """Every element closed in order (SVG self-closing tags allowed); records the sections."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.sections, self.h2 = [], [], [], []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.sections.append(dict(attrs))
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


@pytest.fixture(scope="module")
def report(demo_warehouse):
    from cadence.report.capacity import capacity_report_html

    cfg = effective_config(load_config(None), demo_warehouse)
    with read_connection(demo_warehouse) as con:
        return capacity_report_html(con, cfg, "2026-Q4", as_of=AS_OF)


def test_the_report_parses_with_a_section_per_team(report, demo_warehouse):
    html = report.decode("utf-8")
    parser = StrictHTML()
    parser.feed(html)
    parser.close()
    assert not parser.problems and parser.stack == [], (parser.problems, parser.stack)
    teams = sorted(effective_config(load_config(None), demo_warehouse).teams)
    assert teams == ["catalog", "checkout", "data", "fulfilment", "growth", "platform"]
    team_sections = [s for s in parser.sections if s.get("class") == "team"]
    assert len(team_sections) == len(teams)
    assert [h.split(" · ")[0] for h in parser.h2[1:]] == teams
    assert all(h.endswith("2026-Q4") for h in parser.h2[1:])
    # Each team page holds the parts the issue lists, and prints on a page of its own.
    for part in ("Throughput and contributors", "Investment balance", "DORA keys", "Cost and idle",
                 "Next quarter (2027-Q1), default scenario", "Changes behind the unplanned share"):
        assert html.count(f"<h3>{part}") == len(teams), part
    assert "break-before: page" in html and "size: A4" in html


def test_the_report_opens_offline(report):
    html = report.decode("utf-8")
    # No URL of any kind (no link, stylesheet, script, font or image to fetch), no script at all.
    # (url(#id) is a reference inside the document: a chart's clip path.)
    assert not re.search(r"(?i)https?:|//[a-z0-9.-]+\.[a-z]{2,}|<script|<link|<img|@import|url\((?!#)", html)
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids))   # ids are unique across the inline charts
    assert set(re.findall(r'(?:href="#|url\(#)([^")]+)', html)) <= set(ids)   # every reference resolves
    assert html.count("<svg") >= 7   # the organisation chart and one trend chart per team


def test_the_report_lists_the_unplanned_changes(report, demo_warehouse):
    html = report.decode("utf-8")
    cfg = effective_config(load_config(None), demo_warehouse)
    with read_connection(demo_warehouse) as con:
        rows = review_changes(con, cfg, date(2026, 10, 1), AS_OF, team="fulfilment")
    unplanned = rows[(rows["category"] == "unplanned") & (rows["quarter"] == "2026-Q4")]
    assert len(unplanned) > 10
    section = html.split("<h2>fulfilment · 2026-Q4</h2>", 1)[1].split("</section>", 1)[0]
    assert f"Changes behind the unplanned share ({len(unplanned)})" in section
    assert section.count("<tr><td>brightcart/") == len(unplanned)


def test_the_cli_writes_the_same_bytes_twice(demo_warehouse, report, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CADENCE_NOW", "2026-11-20T12:00:00Z")
    out = tmp_path / "review.html"
    assert main(["--db", str(demo_warehouse), "report", "capacity", "--quarter", "2026-Q4", "--out", str(out)]) == 0
    assert "Capacity review 2026-Q4 written to" in capsys.readouterr().out
    first = out.read_bytes()
    # The page's "Download report" calls capacity_report_html with the same arguments: same bytes.
    assert first == report
    assert main(["--db", str(demo_warehouse), "report", "capacity", "--quarter", "2026-Q4", "--out", str(out)]) == 0
    assert out.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["review.html"]   # no temporary file left behind


def test_the_cli_refuses_bad_input_and_writes_nothing(demo_warehouse, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CADENCE_NOW", "2026-11-20T12:00:00Z")
    out = tmp_path / "review.html"
    assert main(["--db", str(demo_warehouse), "report", "capacity", "--quarter", "2026-Q7", "--out", str(out)]) == 1
    assert 'quarter "2026-Q7" is not YYYY-Qn' in capsys.readouterr().err
    assert main(["--db", str(demo_warehouse), "report", "capacity", "--quarter", "2027-Q1", "--out", str(out)]) == 1
    assert "has not started yet" in capsys.readouterr().err
    assert main(["--db", str(demo_warehouse), "report", "capacity", "--contributors", "checkout", "--out", str(out)]) == 2
    assert "is not TEAM=N" in capsys.readouterr().err
    assert not out.exists()


def test_a_report_without_costs_shows_no_money(demo_warehouse):
    from cadence.report.capacity import capacity_report_html

    cfg = effective_config(load_config(None), demo_warehouse)
    with read_connection(demo_warehouse) as con:
        html = capacity_report_html(con, cfg, "2026-Q4", as_of=AS_OF, include_costs=False).decode("utf-8")
    assert "$" not in html and "Cost and idle" not in html and "Throughput and contributors" in html


def test_the_scenario_changes_the_forecast_in_the_report(demo_warehouse):
    from cadence.report.capacity import review_data

    cfg = effective_config(load_config(None), demo_warehouse)
    with read_connection(demo_warehouse) as con:
        base = review_data(con, cfg, date(2026, 10, 1), AS_OF)
        grown = review_data(con, cfg, date(2026, 10, 1), AS_OF, traffic_growth=50,
                            contributor_change={"checkout": 2})
    b = {t["team"]: t["forecast"] for t in base["teams"]}
    g = {t["team"]: t["forecast"] for t in grown["teams"]}
    # Cost: trend x (1 + usage share x 0.5); changes: only checkout's move.
    for team in b:
        assert g[team]["cost_forecast"] == pytest.approx(b[team]["trend_cost"] * (1 + g[team]["usage_share"] * 0.5))
    assert g["checkout"]["changes_forecast"] > b["checkout"]["changes_forecast"]
    assert g["data"]["changes_forecast"] == pytest.approx(b["data"]["changes_forecast"])
